"""The `xiaobao` command: operate the platform and talk to its gRPC APIs."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from services.blacklist.batch import app as blacklist_app
from services.common import settings as settings_mod
from services.common.clock_cli import app as clock_app
from services.common.console import console
from services.common.console import fail as _fail
from services.education.cli import app as education_app
from services.intake.cli import app as intake_app
from services.mediation.cli import app as mediation_app
from services.ops import app as ops_app
from services.routing.cli import app as routing_app

app = typer.Typer(
    help="Xiaobao: the case platform of a consumer-protection centre.", no_args_is_help=True
)
db_app = typer.Typer(
    help="Database migrations (Alembic, one history per service).", no_args_is_help=True
)
auth_app = typer.Typer(help="Development tokens for the gRPC APIs.", no_args_is_help=True)
app.add_typer(clock_app, name="clock")
app.add_typer(db_app, name="db")
app.add_typer(routing_app, name="routing")
app.add_typer(intake_app, name="intake")
app.add_typer(mediation_app, name="mediation")
app.add_typer(education_app, name="education")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(auth_app, name="auth")
app.add_typer(ops_app, name="ops")


@db_app.command("upgrade")
def db_upgrade(
    service: str = typer.Argument(
        "all", help="intake, routing, mediation, education, blacklist or all"
    ),
    revision: str = typer.Option("head", help="Target revision."),
) -> None:
    """Migrates the service databases (SQLite files, or PostgreSQL when XIAOBAO_DATABASE_URL is set)."""
    from services.common import migrations

    services = settings_mod.SERVICES if service == "all" else (service,)
    for name in services:
        if name not in settings_mod.SERVICES:
            _fail(
                f"unknown service {name!r}; expected one of {', '.join(settings_mod.SERVICES)} or all",
                2,
            )
        try:
            migrations.upgrade(name, revision)
        except Exception as exc:
            _fail(f"{name}: migration failed: {type(exc).__name__}: {exc}")
        console.print(f"{name}: database at {revision}")


@db_app.command("check")
def db_check(
    service: str = typer.Argument(
        "all", help="intake, routing, mediation, education, blacklist or all"
    ),
) -> None:
    """Exits 0 when every database is at the code's head revision, 1 otherwise (an init
    container waits on it so an api never starts against an older schema)."""
    from services.common import migrations

    services = settings_mod.SERVICES if service == "all" else (service,)
    behind = 0
    for name in services:
        if name not in settings_mod.SERVICES:
            _fail(
                f"unknown service {name!r}; expected one of {', '.join(settings_mod.SERVICES)} or all",
                2,
            )
        try:
            current, head = migrations.status(name)
        except Exception as exc:
            _fail(f"{name}: database unreachable: {type(exc).__name__}: {exc}")
        ok = current == head
        behind += not ok
        console.print(
            f"{name}: database at {current or 'nothing'}, code at {head}"
            + ("" if ok else " — run xiaobao db upgrade")
        )
    raise typer.Exit(1 if behind else 0)


@auth_app.command("token")
def token(
    role: str = typer.Option(
        ..., help="operator, institution, mediator, educator, investigator, supervisor"
    ),
    subject: str = typer.Option("cli", help="Who the token speaks for."),
    node: str = typer.Option("", help="Institution node id (institution role)."),
    ttl: int = typer.Option(12 * 3600, help="Seconds the token is valid."),
) -> None:
    """Signs a development token with XIAOBAO_AUTH_SECRET."""
    from services.common import auth
    from services.common.errors import InvalidArgument

    try:
        print(auth.issue_token(subject, role, node, ttl))
    except InvalidArgument as exc:
        _fail(str(exc), 2)


@app.command("status")
def status() -> None:
    """Health of every api, at the addresses from settings."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    cfg = settings_mod.get()
    table = Table("service", "address", "health")
    bad = 0
    for name in settings_mod.SERVICES:
        address = cfg.service(name).address
        with grpc.insecure_channel(address) as channel:
            try:
                resp = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
                state = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            except grpc.RpcError as exc:
                state = f"unreachable ({exc.code().name})"
        bad += state != "SERVING"
        table.add_row(name, address, state)
    console.print(table)
    raise typer.Exit(1 if bad else 0)


@app.command("demo")
def demo(
    once: bool = typer.Option(
        False, "--once", help="Run the day, print the summary, stop everything."
    ),
    cases: int = typer.Option(24, help="How many cases arrive during the day."),
) -> None:
    """Starts all ten processes, runs a realistic day of the centre and prints a summary."""
    from services import demo as demo_mod

    raise typer.Exit(demo_mod.run(once=once, cases=cases))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
