// @ts-check
// Talking to the mailfiler API: the sign-in token, its silent renewal, and errors.
//
// The token lives in localStorage for its 24 hours. Every answer carries
// X-Session-Expires (the server pushes the expiry forward while the token is
// used); a 401 means the sign-in has ended, and the caller asks again.

const KEY = "mailfiler.session";

export class SignedOut extends Error {
  constructor(message) {
    super(message || "Please sign in.");
    this.name = "SignedOut";
  }
}

export class Problem extends Error {
  constructor(status, detail, body) {
    super(detail || `The server answered ${status}.`);
    this.name = "Problem";
    this.status = status;
    this.body = body;
  }
}

export function currentSession() {
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    stored = null;
  }
  if (!stored || !stored.token) return null;
  if (new Date(stored.expires_at).getTime() <= Date.now()) return null;
  return stored;
}

// What the sign-in form can be prefilled with, even after the token ended.
export function lastIdentity() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) || "null");
    return stored ? { cloud_id: stored.cloud_id || "", username: stored.username || "" } : {};
  } catch {
    return {};
  }
}

function store(session) {
  localStorage.setItem(KEY, JSON.stringify(session));
}

function endSession() {
  const identity = lastIdentity();
  store({ cloud_id: identity.cloud_id, username: identity.username });
}

export async function signIn(cloudId, username, password) {
  const answer = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ cloud_id: cloudId, username, password }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Problem(answer.status, body.detail, body);
  store({
    token: body.token,
    expires_at: body.expires_at,
    cloud_id: body.cloud_id,
    username: body.user.username,
    roles: body.user.roles,
    organisation: body.organisation,
  });
  return currentSession();
}

export async function signOut() {
  const session = currentSession();
  if (session) {
    await fetch("/api/v1/session", {
      method: "DELETE",
      headers: { Authorization: `Bearer ${session.token}` },
    }).catch(() => null);
  }
  endSession();
}

/**
 * Calls the API as the signed-in user. Throws SignedOut when there is no (longer a) valid
 * sign-in, Problem for any other refusal.
 * @param {string} path
 * @param {{ method?: string, json?: unknown, body?: BodyInit, headers?: Record<string, string>,
 *   raw?: boolean }} [request]
 * @returns {Promise<any>}
 */
export async function call(path, { method = "GET", json, body, headers = {}, raw = false } = {}) {
  const session = currentSession();
  if (!session) throw new SignedOut();
  const request = { method, headers: { ...headers, Authorization: `Bearer ${session.token}` } };
  if (json !== undefined) {
    request.headers["Content-Type"] = "application/json";
    request.body = JSON.stringify(json);
  } else if (body !== undefined) {
    request.body = body;
  }
  const answer = await fetch(path, request);
  const renewed = answer.headers.get("X-Session-Expires");
  if (renewed) store({ ...session, expires_at: renewed });
  if (answer.status === 401) {
    endSession();
    const problem = await answer.json().catch(() => ({}));
    throw new SignedOut(problem.detail);
  }
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({}));
    throw new Problem(answer.status, problem.detail, problem);
  }
  if (raw) return answer;
  if (answer.status === 204) return null;
  return answer.json();
}
