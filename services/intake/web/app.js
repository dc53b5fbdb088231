// The consumer's page: submit a complaint, look a case up. Plain fetch against the API beside it
// (services/intake/openapi.yaml); every refusal is shown next to the field the API names.
"use strict";

(function () {
  var API = "/api/v1";

  function $(id) { return document.getElementById(id); }

  // One id per complaint being written, so a double click or a retry files it once.
  function newRequestId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function clearErrors(form) {
    var box = form.querySelector(".form-error");
    box.hidden = true;
    box.textContent = "";
    form.querySelectorAll(".error").forEach(function (p) {
      p.hidden = true;
      p.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  // Shows the API's error next to its field, or above the form when it names none.
  function showError(form, error) {
    var field = error && error.field;
    var message = (error && error.message) || "提交失败，请稍后再试";
    var slot = field ? form.querySelector('[data-error-for="' + field + '"]') : null;
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      var input = form.elements[field];
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    var box = form.querySelector(".form-error");
    box.textContent = message;
    box.hidden = false;
    box.focus();
  }

  function post(path, body) {
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function phoneValue(value) { return value.replace(/[\s()（）]/g, ""); }

  function formatDate(iso) {
    var parts = iso.split("-");
    return parts[0] + "年" + Number(parts[1]) + "月" + Number(parts[2]) + "日";
  }

  // --- products (the select is filled from the centre's taxonomy) -----------------------------

  function loadProducts() {
    fetch(API + "/products", { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { products: [] }; })
      .then(function (data) {
        var select = $("c-product");
        var groups = {};
        (data.products || []).forEach(function (p) {
          var group = groups[p.group];
          if (!group) {
            group = document.createElement("optgroup");
            group.label = p.group || "其他";
            groups[p.group] = group;
            select.appendChild(group);
          }
          var option = document.createElement("option");
          option.value = p.code;
          option.textContent = p.label;
          group.appendChild(option);
        });
      })
      .catch(function () { /* the select still offers 不确定 / 其他 */ });
  }

  // --- the complaint --------------------------------------------------------------------------

  var requestId = newRequestId();

  function complaintBody(form) {
    var e = form.elements;
    var body = {
      channel: "web",
      name: e.name.value.trim(),
      phone: phoneValue(e.phone.value),
      institution: e.institution.value.trim(),
      summary: e.summary.value.trim(),
      request_id: requestId
    };
    var id = e.id_number.value.trim().toUpperCase();
    if (id) { body.id_number = id; }
    if (e.region_code.value) { body.region_code = e.region_code.value; }
    if (e.product.value) { body.product = e.product.value; }
    var amount = e.amount_yuan.value.trim().replace(/[,，¥￥元\s]/g, "");
    if (amount) { body.amount_yuan = amount; }
    return body;
  }

  function onComplaint(event) {
    event.preventDefault();
    var form = event.target;
    var button = $("complaint-submit");
    clearErrors(form);
    busy(button, true);
    post("/complaints", complaintBody(form))
      .then(function (result) {
        if (!result.ok) {
          showError(form, result.data.error);
          return;
        }
        $("receipt-case-no").textContent = result.data.case_no;
        $("receipt-message").textContent = result.data.message;
        form.hidden = true;
        $("receipt").hidden = false;
        $("receipt").focus();
        // Ready to follow it: the lookup form knows the case number already.
        $("l-case-no").value = result.data.case_no;
      })
      .catch(function () {
        showError(form, { message: "网络连接失败，请检查网络后重试" });
      })
      .then(function () { busy(button, false); });
  }

  function onNewComplaint() {
    var form = $("complaint-form");
    form.reset();
    clearErrors(form);
    requestId = newRequestId();
    $("receipt").hidden = true;
    form.hidden = false;
    form.elements.name.focus();
  }

  // --- the lookup -----------------------------------------------------------------------------

  function showStatus(view) {
    $("status-name").textContent = view.name;
    $("status-case-no").textContent = view.case_no;
    $("status-text").textContent = view.status_text;
    var hasOffice = Boolean(view.institution);
    $("status-institution").textContent = view.institution || "";
    $("status-institution").hidden = !hasOffice;
    $("status-institution-label").hidden = !hasOffice;
    var hasDeadline = Boolean(view.next_deadline);
    $("status-deadline").textContent = hasDeadline
      ? "机构应于" + formatDate(view.next_deadline) + "前作出处理决定"
      : "";
    $("status-deadline").hidden = !hasDeadline;
    $("status-deadline-label").hidden = !hasDeadline;
    var list = $("timeline");
    list.textContent = "";
    view.timeline.forEach(function (entry) {
      var item = document.createElement("li");
      var when = document.createElement("time");
      when.dateTime = entry.date;
      when.textContent = formatDate(entry.date);
      var what = document.createElement("span");
      what.textContent = entry.text;
      item.appendChild(when);
      item.appendChild(what);
      list.appendChild(item);
    });
    $("status").hidden = false;
    $("status").focus();
  }

  function onLookup(event) {
    event.preventDefault();
    var form = event.target;
    var button = $("lookup-submit");
    clearErrors(form);
    $("status").hidden = true;
    busy(button, true);
    post("/cases/lookup", {
      case_no: form.elements.case_no.value.replace(/\s/g, "").toUpperCase(),
      phone: phoneValue(form.elements.phone.value)
    })
      .then(function (result) {
        if (!result.ok) {
          showError(form, result.data.error);
          return;
        }
        showStatus(result.data);
      })
      .catch(function () {
        showError(form, { message: "网络连接失败，请检查网络后重试" });
      })
      .then(function () { busy(button, false); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadProducts();
    $("complaint-form").addEventListener("submit", onComplaint);
    $("receipt-new").addEventListener("click", onNewComplaint);
    $("lookup-form").addEventListener("submit", onLookup);
  });
})();
