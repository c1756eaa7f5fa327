// auth-forms.js — the sign-in and sign-up forms, with the API's validation messages shown next
// to the fields they concern.

import { signIn, signUp, ApiError } from './api.js';
import { $, clearErrors, showErrors } from './ui.js';

function busy(form, on) {
  const button = $('button[type="submit"]', form);
  if (button) {
    button.disabled = on;
    button.setAttribute('aria-busy', String(on));
  }
}

function problemText(error) {
  if (error instanceof ApiError && error.status === 429) return 'Too many attempts. Please wait a few minutes and try again.';
  if (error instanceof ApiError && error.status === 409) return 'An account with this e-mail already exists. Sign in instead.';
  if (error instanceof ApiError && error.status === 401) return 'Wrong e-mail or password.';
  if (!(error instanceof ApiError)) return 'Cannot reach the server. Check your connection and try again.';
  return error.message;
}

async function submit(form, action, onSuccess) {
  clearErrors(form);
  busy(form, true);
  try {
    const auth = await action();
    await onSuccess(auth);
  } catch (error) {
    if (error instanceof ApiError && error.fieldErrors.length) showErrors(form, error);
    else showErrors(form, { fieldErrors: [], message: problemText(error) });
  } finally {
    busy(form, false);
  }
}

/** Signs in with the form's `email` and `password`; `onSuccess(auth)` decides what happens next. */
export function wireSignIn(form, onSuccess) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    const missing = [];
    if (!email) missing.push({ field: 'email', message: 'is required' });
    if (!password) missing.push({ field: 'password', message: 'is required' });
    if (missing.length) {
      showErrors(form, { fieldErrors: missing });
      return;
    }
    submit(form, () => signIn(email, password), onSuccess);
  });
}

/** Registers a customer with `fullName`, `email` and `password`. */
export function wireSignUp(form, onSuccess) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(
      form,
      () => signUp(form.elements.fullName.value.trim(), form.elements.email.value.trim(), form.elements.password.value),
      onSuccess,
    );
  });
}
