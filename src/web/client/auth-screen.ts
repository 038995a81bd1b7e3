/// <reference lib="dom" />
// Sign in / create account. While a new username is typed, a hint says whether it is
// free (GET /v1/accounts/:name needs no session).

import type { ConcordClient } from "../../client/concord-client.ts";
import { ConcordError } from "../../client/concord-error.ts";
import { debounce, h } from "./dom.ts";
import type { SavedSession } from "./saved-session.ts";

const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
const MIN_PASSWORD = 8;

export function authScreen(client: ConcordClient, onSignedIn: (session: SavedSession) => void): HTMLElement {
  let mode: "signin" | "signup" = "signin";
  const username = h("input", { id: "auth-username", name: "username", autocomplete: "username", required: true, maxLength: 32, spellcheck: false, attrs: { autocapitalize: "none" } });
  const password = h("input", { id: "auth-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const hint = h("p", { class: "field-hint", id: "username-hint", attrs: { "aria-live": "polite" } });
  const error = h("p", { class: "form-error", attrs: { role: "alert" } });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
  const signinTab = h("button", { type: "button", class: "tab", attrs: { role: "tab" } }, "Sign in");
  const signupTab = h("button", { type: "button", class: "tab", attrs: { role: "tab" } }, "Create account");

  const setHint = (text: string, tone: "ok" | "bad" | "") => {
    hint.textContent = text;
    hint.dataset["tone"] = tone;
  };
  let checkSeq = 0;
  const checkUsername = debounce(250, async (name: string) => {
    const seq = ++checkSeq;
    try {
      await client.getAccount(name);
      if (seq === checkSeq) setHint(`“${name}” is taken`, "bad");
    } catch (e) {
      if (seq !== checkSeq) return;
      if (e instanceof ConcordError && e.code === "not_found") setHint(`“${name}” is available`, "ok");
      else setHint("", "");
    }
  });
  const onUsernameInput = () => {
    if (mode !== "signup") return;
    const name = username.value;
    checkSeq++;
    if (name === "") setHint("1–32 letters, digits, _ . or -", "");
    else if (!USERNAME.test(name)) setHint("Only letters, digits, _ . and - (at most 32)", "bad");
    else {
      setHint("Checking…", "");
      checkUsername(name);
    }
  };
  username.addEventListener("input", onUsernameInput);

  const setMode = (next: typeof mode) => {
    mode = next;
    signinTab.setAttribute("aria-selected", String(mode === "signin"));
    signupTab.setAttribute("aria-selected", String(mode === "signup"));
    submit.textContent = mode === "signin" ? "Sign in" : "Create account";
    password.autocomplete = mode === "signin" ? "current-password" : "new-password";
    password.minLength = mode === "signup" ? MIN_PASSWORD : 0;
    password.placeholder = mode === "signup" ? `At least ${MIN_PASSWORD} characters` : "";
    error.textContent = "";
    setHint("", "");
    onUsernameInput();
  };
  signinTab.addEventListener("click", () => setMode("signin"));
  signupTab.addEventListener("click", () => setMode("signup"));

  const form = h(
    "form",
    { class: "auth-form", noValidate: true },
    h("div", { class: "tabs", attrs: { role: "tablist" } }, signinTab, signupTab),
    h("label", { class: "field" }, h("span", null, "Username"), username),
    hint,
    h("label", { class: "field" }, h("span", null, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const name = username.value.trim();
    if (!USERNAME.test(name)) return void (error.textContent = "Usernames are 1–32 letters, digits, _ . or -");
    if (mode === "signup" && password.value.length < MIN_PASSWORD) return void (error.textContent = `Passwords need at least ${MIN_PASSWORD} characters`);
    submit.disabled = true;
    submit.textContent = mode === "signin" ? "Signing in…" : "Creating account…";
    try {
      if (mode === "signup") await client.signup(name, password.value);
      const session = await client.login(name, password.value);
      onSignedIn({ token: session.token, username: session.username });
    } catch (e) {
      error.textContent = describeAuthError(e);
      submit.disabled = false;
      submit.textContent = mode === "signin" ? "Sign in" : "Create account";
    }
  });
  setMode("signin");

  return h(
    "main",
    { class: "auth-screen" },
    h(
      "div",
      { class: "auth-card" },
      h("div", { class: "brand large" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), "Concord"),
      h("p", { class: "tagline" }, "Chat that keeps going when servers don’t."),
      form,
    ),
    h("a", { class: "quiet-link", href: "/cluster" }, "Cluster dashboard →"),
  );
}

function describeAuthError(e: unknown): string {
  if (!(e instanceof ConcordError)) return "Something went wrong. Try again.";
  switch (e.code) {
    case "bad_credentials":
      return "Wrong username or password.";
    case "username_taken":
      return "That username is taken.";
    case "weak_password":
      return `Passwords need at least ${MIN_PASSWORD} characters.`;
    case "invalid_username":
      return "Usernames are 1–32 letters, digits, _ . or -";
    case "rate_limited":
      // The server says how long: "too many failed password attempts …; try again in 30 s".
      return `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.`;
    case "overloaded":
      return "The server is busy. Try again in a moment.";
    default:
      return e.transient ? "The service is unreachable right now. Try again in a moment." : e.message;
  }
}
