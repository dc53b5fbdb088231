#!/usr/bin/env bash
# Deploys an overlay in the order Xiaobao needs (docs/operations.md, "Deploying"):
#   0. the operators' CRDs are installed;  1. namespace, PostgreSQL and RabbitMQ, ready;
#   2. the Secrets made out of band exist;  3. config, then one migration Job per service, all
#   complete;  4. everything else (apis, workers, policies, monitors), rolled out.
# The apis and workers never start against a schema older than their code: the Jobs finish
# first. Usage: deploy/k8s/rollout.sh dev|prod   (XIAOBAO_ROLLOUT_TIMEOUT, default 10m)
set -euo pipefail

overlay="${1:?usage: $0 dev|prod}"
dir="$(cd "$(dirname "$0")" && pwd)/overlays/$overlay"
[ -f "$dir/kustomization.yaml" ] || { echo "no overlay $overlay in $dir" >&2; exit 2; }
ns="$(awk '/^namespace:/ {print $2}' "$dir/kustomization.yaml")"
timeout="${XIAOBAO_ROLLOUT_TIMEOUT:-10m}"
k() { kubectl -n "$ns" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "0. operators (CRDs)"
crds=(clusters.postgresql.cnpg.io rabbitmqclusters.rabbitmq.com servicemonitors.monitoring.coreos.com
  podmonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com)
secrets=(xiaobao-secrets)
if [ "$overlay" = prod ]; then
  crds+=(certificates.cert-manager.io issuers.cert-manager.io)
  secrets+=(xiaobao-centre-ca-keypair xiaobao-client-ca)
fi
kubectl get crd "${crds[@]}" >/dev/null

step "1. namespace $ns, PostgreSQL and RabbitMQ"
kubectl apply -f "$dir/namespace.yaml"
k apply -f "$dir/datastores.yaml"
k wait --for=condition=Ready cluster.postgresql.cnpg.io/xiaobao-db --timeout="$timeout"
k wait --for=condition=AllReplicasReady rabbitmqcluster.rabbitmq.com/xiaobao-mq --timeout="$timeout"

step "2. Secrets (made by hand: deploy/k8s/README.md)"
for secret in "${secrets[@]}"; do
  k get secret "$secret" >/dev/null || {
    echo "Secret $secret is missing in $ns: see deploy/k8s/README.md" >&2
    exit 1
  }
done

step "3. config and migrations"
# Jobs are immutable: the previous release's Jobs go first.
k delete job -l app.kubernetes.io/component=migrate --ignore-not-found --wait=true
k apply -k "$dir" -l 'app.kubernetes.io/component in (config,migrate)'
if ! k wait --for=condition=complete job -l app.kubernetes.io/component=migrate --timeout="$timeout"; then
  for job in $(k get job -l app.kubernetes.io/component=migrate -o name); do
    echo "--- $job" >&2
    k logs "$job" --tail=50 >&2 || true
  done
  echo "migrations did not complete: nothing else was rolled out" >&2
  exit 1
fi

step "4. apis, workers, policies, monitors"
k apply -k "$dir"
k rollout status deployment -l app.kubernetes.io/part-of=xiaobao --timeout="$timeout"
echo "deployed $overlay to namespace $ns"
