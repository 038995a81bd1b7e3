/// <reference lib="dom" />
// The signed-in person's menu: log out (here, or everywhere), change the password (which
// signs out every other session), or delete the account after typing the password into a
// confirmation dialog (it cannot be undone).

import type { ConcordClient } from "../../client/concord-client.ts";
import { ConcordError } from "../../client/concord-error.ts";
import { avatar } from "./avatar.ts";
import { h } from "./dom.ts";

export function accountMenu(client: ConcordClient, me: string, onSignedOut: () => void): HTMLElement {
  const logout = h("button", { type: "button", class: "menu-item", id: "logout" }, "Log out");
  const logoutEverywhere = h("button", { type: "button", class: "menu-item", id: "logout-everywhere" }, "Log out everywhere");
  const changePassword = h("button", { type: "button", class: "menu-item", id: "change-password" }, "Change password…");
  const remove = h("button", { type: "button", class: "menu-item danger", id: "delete-account" }, "Delete account…");
  const menu = h("div", { class: "menu", attrs: { role: "menu" } }, h("div", { class: "menu-label" }, `Signed in as ${me}`), logout, logoutEverywhere, changePassword, remove);
  const details = h("details", { class: "account-menu" }, h("summary", { attrs: { "aria-label": "Account" } }, avatar(me, "small"), h("span", { class: "account-name" }, me)), menu);

  logout.addEventListener("click", async () => {
    logout.disabled = true;
    // Signing out locally must work even when no node answers.
    await client.logout().catch(() => {});
    onSignedOut();
  });

  logoutEverywhere.addEventListener("click", async () => {
    logoutEverywhere.disabled = true;
    // Every session of mine ends on every node; this page signs out whatever the answer.
    await client.logoutEverywhere().catch(() => {});
    onSignedOut();
  });

  const current = h("input", { type: "password", id: "current-password", autocomplete: "current-password", required: true, attrs: { "aria-label": "Current password" } });
  const next = h("input", { type: "password", id: "new-password", autocomplete: "new-password", required: true, minLength: 8, attrs: { "aria-label": "New password" } });
  const passwordError = h("p", { class: "form-error", attrs: { role: "alert" } });
  const savePassword = h("button", { type: "submit", class: "button primary", id: "confirm-password" }, "Change password");
  const cancelPassword = h("button", { type: "button", class: "button subtle" }, "Cancel");
  const passwordDialog = h(
    "dialog",
    { class: "dialog", id: "password-dialog" },
    h(
      "form",
      { method: "dialog" },
      h("h2", null, "Change your password"),
      h("p", null, "Every other place you are signed in will be signed out."),
      h("label", { class: "field" }, h("span", null, "Current password"), current),
      h("label", { class: "field" }, h("span", null, "New password (at least 8 characters)"), next),
      passwordError,
      h("div", { class: "dialog-actions" }, cancelPassword, savePassword),
    ),
  );
  cancelPassword.addEventListener("click", () => passwordDialog.close());
  changePassword.addEventListener("click", () => {
    details.open = false;
    current.value = "";
    next.value = "";
    passwordError.textContent = "";
    passwordDialog.showModal();
    current.focus();
  });
  passwordDialog.querySelector("form")!.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (next.value.length < 8) return void (passwordError.textContent = "The new password needs at least 8 characters.");
    savePassword.disabled = true;
    passwordError.textContent = "";
    try {
      const revoked = await client.changePassword(current.value, next.value);
      current.value = "";
      next.value = "";
      passwordDialog.close();
      menuNotice.textContent = revoked === 1 ? "Password changed; 1 other session signed out." : `Password changed; ${revoked} other sessions signed out.`;
      details.open = true; // the notice lives in the menu: show it
    } catch (e) {
      passwordError.textContent =
        e instanceof ConcordError && e.code === "wrong_password" ? "The current password is not right." : e instanceof Error ? e.message : "Could not change the password.";
    } finally {
      savePassword.disabled = false;
    }
  });
  const menuNotice = h("p", { class: "menu-label", id: "account-notice", attrs: { role: "status", "aria-live": "polite" } });
  menu.append(menuNotice);

  const password = h("input", { type: "password", id: "delete-password", autocomplete: "current-password", required: true, attrs: { "aria-label": "Password" } });
  const error = h("p", { class: "form-error", attrs: { role: "alert" } });
  const confirm = h("button", { type: "submit", class: "button danger", id: "confirm-delete" }, "Delete forever");
  const cancel = h("button", { type: "button", class: "button subtle" }, "Cancel");
  const dialog = h(
    "dialog",
    { class: "dialog", id: "delete-dialog" },
    h(
      "form",
      { method: "dialog" },
      h("h2", null, "Delete your account?"),
      h("p", null, "Your account, your sessions and the messages you received are deleted on every node. Messages you sent stay with their recipients. This cannot be undone."),
      h("label", { class: "field" }, h("span", null, "Type your password to confirm"), password),
      error,
      h("div", { class: "dialog-actions" }, cancel, confirm),
    ),
  );
  cancel.addEventListener("click", () => dialog.close());
  remove.addEventListener("click", () => {
    details.open = false;
    password.value = "";
    error.textContent = "";
    dialog.showModal();
    password.focus();
  });
  dialog.querySelector("form")!.addEventListener("submit", async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    error.textContent = "";
    try {
      await client.deleteAccount(password.value);
      dialog.close();
      onSignedOut();
    } catch (e) {
      error.textContent = e instanceof ConcordError && e.code === "wrong_password" ? "That password is not right." : e instanceof Error ? e.message : "Could not delete the account.";
    } finally {
      confirm.disabled = false;
    }
  });
  document.addEventListener("click", (event) => {
    if (details.open && !details.contains(event.target as Node)) details.open = false;
  });
  return h("div", { class: "account" }, details, dialog, passwordDialog);
}
