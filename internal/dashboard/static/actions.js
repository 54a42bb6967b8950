// The dashboard's buttons: a form with data-api sends its fields to that
// API route as JSON (method data-method, POST by default), then reloads the
// page; a refusal shows the API's error beside the button. A field named
// scope holds JSON whose keys are merged in ({"app":"shop"}); empty fields
// are left out. The browser sends the dashboard's basic auth with it, and
// the API refuses it from any other origin (CSRF).
"use strict";
document.addEventListener("submit", async (ev) => {
  const form = ev.target.closest("form[data-api]");
  if (!form) return;
  ev.preventDefault();
  const body = {};
  for (const [k, v] of new FormData(form)) {
    if (k === "scope") Object.assign(body, JSON.parse(v));
    else if (v !== "") body[k] = v;
  }
  const method = form.dataset.method || "POST";
  const buttons = form.querySelectorAll("button");
  const error = form.querySelector(".error");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const res = await fetch(form.dataset.api, {
      method,
      credentials: "same-origin",
      headers: method === "DELETE" ? {} : { "Content-Type": "application/json" },
      body: method === "DELETE" ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      throw new Error(j.error || res.status + " " + res.statusText);
    }
    location.reload();
  } catch (e) {
    if (error) error.textContent = e.message;
    buttons.forEach((b) => (b.disabled = false));
  }
});
