// The page of the sessionshield example. It talks to the JSON API of the
// same origin with fetch(): every state-changing request is JSON, so the
// server's CSRF checks apply to it as to any client. The state (logged in
// or not) is loaded after the page loads, never rendered by the server: a
// user who arrives by a link from another site gets the page without the
// SameSite=Strict cookie, but this same-origin fetch carries it.
"use strict";

const $ = (id) => document.getElementById(id);

// api sends one request and returns {ok, status, data, error}, error being
// a sentence for a person when the request failed.
async function api(method, path, body) {
  const init = { method, credentials: "same-origin", cache: "no-store", headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, data: {}, error: "The server cannot be reached. Check your connection and try again." };
  }
  let data = {};
  try {
    data = await res.json();
  } catch (e) {
    // not JSON: keep the status
  }
  return { ok: res.ok, status: res.status, data, error: res.ok ? "" : describe(res, data) };
}

// describe turns a failed response into a plain message.
function describe(res, data) {
  const err = typeof data.error === "string" ? data.error : "";
  switch (res.status) {
    case 401:
      if (err === "invalid credentials") return "Wrong email or password.";
      // A login refused because the account's sessions were ended while
      // its password was being checked: the server says to log in again.
      if (err.endsWith("log in again")) return err.charAt(0).toUpperCase() + err.slice(1) + ".";
      return "You are not logged in: your session has ended.";
    case 403:
      if (err === "invalid credentials") return "Wrong password.";
      return "Refused: " + (err || "forbidden") + ".";
    case 429: {
      const secs = parseInt(res.headers.get("Retry-After") || "", 10);
      let wait = "later";
      if (secs > 0 && secs < 120) wait = "in " + secs + " seconds";
      else if (secs >= 120) wait = "in " + Math.ceil(secs / 60) + " minutes";
      return "Too many attempts. Try again " + wait + ".";
    }
    case 503:
      return "The service is unavailable right now. Try again in a moment.";
  }
  if (err) return err.charAt(0).toUpperCase() + err.slice(1) + ".";
  return "The request failed (HTTP " + res.status + ").";
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = "message " + (kind || "ok");
  m.hidden = !text;
}

function showAnon(status) {
  $("user").hidden = true;
  $("anon").hidden = false;
  $("status").textContent = status || "Not logged in.";
  document.body.dataset.state = "anon";
}

function showUser(profile) {
  $("anon").hidden = true;
  $("user").hidden = false;
  $("status").textContent = "Logged in as " + profile.email + ".";
  $("profile-email").textContent = profile.email;
  $("profile-id").textContent = profile.userId;
  document.querySelector("#password-form input[name=email]").value = profile.email;
  document.body.dataset.state = "user";
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "unknown" : d.toLocaleString();
}

// load asks the server who is logged in and shows the matching view.
async function load() {
  const r = await api("GET", "/profile");
  if (r.ok) {
    showUser(r.data);
    await loadSessions();
    return true;
  }
  showAnon();
  if (r.status !== 401) say(r.error, "error");
  return false;
}

async function loadSessions() {
  const r = await api("GET", "/sessions");
  const list = $("sessions");
  if (!r.ok) {
    if (r.status === 401) return loggedOut(r.error);
    say(r.error, "error");
    return;
  }
  list.replaceChildren();
  for (const s of r.data.sessions) {
    const li = document.createElement("li");
    li.className = "session" + (s.current ? " current" : "");
    li.dataset.ref = s.ref;
    const info = document.createElement("div");
    const device = document.createElement("strong");
    device.className = "device";
    device.textContent = s.device || "Unknown browser";
    info.append(device);
    if (s.current) {
      const badge = document.createElement("span");
      badge.className = "badge this-device";
      badge.textContent = "this device";
      info.append(" ", badge);
    }
    if (s.remembered) {
      const badge = document.createElement("span");
      badge.className = "badge remembered";
      badge.textContent = "kept signed in";
      info.append(" ", badge);
    }
    const times = document.createElement("div");
    times.className = "times";
    times.textContent = "Logged in " + when(s.created) + " · last seen " + when(s.lastSeen);
    info.append(times);
    const end = document.createElement("button");
    end.type = "button";
    end.className = "end secondary";
    end.textContent = "End this session";
    end.addEventListener("click", () => endSession(s.ref, s.current, end));
    li.append(info, end);
    list.append(li);
  }
}

// loggedOut shows the logged-out view after a request found no session.
function loggedOut(msg) {
  showAnon();
  say(msg || "You are not logged in: your session has ended.", "error");
}

// busy disables button while fn runs.
async function busy(button, fn) {
  button.disabled = true;
  try {
    await fn();
  } finally {
    button.disabled = false;
  }
}

async function endSession(ref, current, button) {
  await busy(button, async () => {
    const r = await api("DELETE", "/sessions/" + encodeURIComponent(ref));
    if (!r.ok) {
      if (r.status === 401) return loggedOut(r.error);
      say(r.error, "error");
      return;
    }
    if (current) {
      showAnon();
      say("This session has ended: you are logged out.");
      return;
    }
    say("The session has ended.");
    await loadSessions();
  });
}

async function logIn(email, password, remember) {
  const r = await api("POST", "/login", { email, password, remember: !!remember });
  if (!r.ok) {
    say(r.error, "error");
    return false;
  }
  if (!(await load())) {
    // /login answered 200 but the browser sent no cookie back.
    const prod = document.body.dataset.production === "true";
    say("Logged in, but this browser did not keep the session cookie" +
      (prod ? " (" + document.body.dataset.cookie + " needs https)." : "."), "error");
    return false;
  }
  return true;
}

function onSubmit(formId, buttonId, fn) {
  $(formId).addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy($(buttonId), fn);
  });
}

onSubmit("login-form", "login-button", async () => {
  if (await logIn($("login-email").value, $("login-password").value, $("login-remember").checked)) {
    $("login-password").value = "";
    say("Logged in.");
  }
});

onSubmit("signup-form", "signup-button", async () => {
  const email = $("signup-email").value, password = $("signup-password").value;
  const r = await api("POST", "/signup", { email, password });
  if (!r.ok) {
    say(r.error, "error");
    return;
  }
  $("signup-password").value = "";
  if (await logIn(email, password)) say("Account created. You are logged in.");
});

$("logout").addEventListener("click", (ev) => busy(ev.currentTarget, async () => {
  const r = await api("POST", "/logout");
  if (!r.ok) {
    say(r.error, "error");
    return;
  }
  showAnon();
  say("Logged out.");
}));

$("logout-all").addEventListener("click", (ev) => busy(ev.currentTarget, async () => {
  const r = await api("POST", "/logout-all");
  if (!r.ok) {
    if (r.status === 401) return loggedOut(r.error);
    say(r.error, "error");
    return;
  }
  showAnon();
  const n = r.data.revoked;
  say("Logged out everywhere: " + n + (n === 1 ? " session" : " sessions") + " ended.");
}));

$("logout-others").addEventListener("click", (ev) => busy(ev.currentTarget, async () => {
  const r = await api("POST", "/logout-others");
  if (!r.ok) {
    if (r.status === 401) return loggedOut(r.error);
    say(r.error, "error");
    return;
  }
  const n = r.data.revoked;
  say("Logged out on every other device: " + n + (n === 1 ? " session" : " sessions") + " ended.");
  await loadSessions();
}));

onSubmit("password-form", "password-button", async () => {
  const r = await api("POST", "/password", { current: $("current-password").value, new: $("new-password").value });
  if (!r.ok) {
    if (r.status === 401) return loggedOut(r.error);
    say(r.error, "error");
    return;
  }
  $("current-password").value = "";
  $("new-password").value = "";
  say("Password changed. Every other session was logged out.");
  await loadSessions();
});

onSubmit("delete-form", "delete-button", async () => {
  const r = await api("DELETE", "/account", { password: $("delete-password").value });
  if (!r.ok) {
    if (r.status === 401) return loggedOut(r.error);
    say(r.error, "error");
    return;
  }
  $("delete-password").value = "";
  $("delete-confirm").checked = false;
  showAnon();
  say("Your account has been deleted.");
});

// The script is deferred: the page is parsed, so ask who is logged in.
load();
