// bearer-auth browser client. Plain JavaScript, no build step, no inline
// code: the page works under `Content-Security-Policy: default-src 'self'`.
'use strict';

(() => {
  // Where the bearer token lives: sessionStorage. It is per tab, survives a
  // reload, and is gone when the tab closes. No cookie is ever set, so the
  // browser never attaches credentials on its own and there is nothing for a
  // cross-site request to ride on (no CSRF). The flip side: any script running
  // on this origin could read it, so this page loads nothing from elsewhere.
  const TOKEN_KEY = 'bearer-auth.token';
  const USER_KEY = 'bearer-auth.username';

  // Used only when sessionStorage is unavailable (some privacy modes).
  const memory = new Map();
  const store = {
    get(key) {
      try {
        return window.sessionStorage.getItem(key);
      } catch {
        return memory.has(key) ? memory.get(key) : null;
      }
    },
    set(key, value) {
      try {
        window.sessionStorage.setItem(key, value);
      } catch {
        memory.set(key, value);
      }
    },
    remove(key) {
      try {
        window.sessionStorage.removeItem(key);
      } catch {
        /* fall through */
      }
      memory.delete(key);
    },
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'),
    message: $('message'),
    auth: $('auth'),
    panel: $('panel'),
    signupForm: $('signup-form'),
    signupFields: $('signup-fields'),
    signupUsername: $('signup-username'),
    signupPassword: $('signup-password'),
    signinForm: $('signin-form'),
    signinFields: $('signin-fields'),
    signinUsername: $('signin-username'),
    signinPassword: $('signin-password'),
    whoami: $('whoami'),
    avatar: $('avatar'),
    memberSince: $('member-since'),
    secret: $('secret'),
    users: $('users'),
    usersCount: $('users-count'),
    sessionsCard: $('sessions-card'),
    sessions: $('sessions'),
    refresh: $('refresh'),
    logout: $('logout'),
    logoutAll: $('logout-all'),
  };

  // null: not known yet; true/false once GET /sessions has answered.
  let sessionsOn = null;

  // ---------------------------------------------------------------- HTTP --

  class ApiError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  /** UTF-8 safe base64, for `Authorization: Basic`. */
  function base64Utf8(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return window.btoa(binary);
  }

  /**
   * One request. Every fetch sends `credentials: 'omit'`: the browser adds
   * no cookie and no cached HTTP credentials, and (per the Fetch standard)
   * never shows its own password dialog for a 401; the Authorization header
   * is always set here, by hand.
   */
  async function request(method, path, { authorization, body } = {}) {
    const headers = { Accept: 'application/json' };
    if (authorization) headers.Authorization = authorization;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch {
      throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
    }
    // With rotation on, every successful authenticated answer carries a fresh
    // token, and with single-use tokens the one just sent is now spent: adopt
    // the new one whatever the answer.
    const fresh = response.headers.get('X-Access-Token');
    if (fresh) store.set(TOKEN_KEY, fresh);

    let data = null;
    if (response.status !== 204) {
      const text = await response.text();
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = null;
        }
      }
    }
    if (!response.ok) {
      const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
      const message =
        data && typeof data.error === 'string' && data.error
          ? data.error
          : `The server answered ${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, message, Number.isFinite(retry) ? retry : undefined);
    }
    return data;
  }

  // Authenticated requests run one at a time: each must carry the token the
  // previous answer handed out (single-use tokens cannot be sent twice).
  let queue = Promise.resolve();
  function authed(method, path) {
    const run = queue.then(() => {
      const token = store.get(TOKEN_KEY);
      if (!token) throw new ApiError(401, 'no token on this tab');
      return request(method, path, { authorization: `Bearer ${token}` });
    });
    queue = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------------ UI --

  function showMessage(text, kind = 'info') {
    el.message.textContent = text;
    el.message.className = `message message-${kind}`;
    el.message.hidden = false;
  }

  function clearMessage() {
    el.message.textContent = '';
    el.message.hidden = true;
  }

  function errorText(error) {
    if (error instanceof ApiError && error.status === 429 && error.retryAfter !== undefined) {
      return `${error.message} (try again in ${error.retryAfter} s)`;
    }
    return error instanceof ApiError ? error.message : 'Something went wrong.';
  }

  function setBusy(fieldset, busy) {
    fieldset.disabled = busy;
    fieldset.closest('form').setAttribute('aria-busy', String(busy));
  }

  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  }

  function describeAgent(agent) {
    if (!agent) return 'Unknown device';
    const browser =
      (/Edg\//.test(agent) && 'Edge') ||
      (/(Chrome|Chromium)\//.test(agent) && (/Headless/.test(agent) ? 'Headless Chrome' : 'Chrome')) ||
      (/Firefox\//.test(agent) && 'Firefox') ||
      (/Safari\//.test(agent) && 'Safari') ||
      (/curl\//.test(agent) && 'curl') ||
      null;
    const system =
      (/Android/.test(agent) && 'Android') ||
      (/iPhone|iPad/.test(agent) && 'iOS') ||
      (/Windows/.test(agent) && 'Windows') ||
      (/Mac OS X/.test(agent) && 'macOS') ||
      (/Linux/.test(agent) && 'Linux') ||
      null;
    if (browser && system) return `${browser} on ${system}`;
    return browser || system || (agent.length > 60 ? `${agent.slice(0, 57)}…` : agent);
  }

  function node(tag, className, text) {
    const item = document.createElement(tag);
    if (className) item.className = className;
    if (text !== undefined) item.textContent = text;
    return item;
  }

  function showSignedOut() {
    document.body.dataset.state = 'signed-out';
    el.panel.hidden = true;
    el.auth.hidden = false;
    el.status.textContent = 'Not signed in';
    el.secret.textContent = '';
    el.users.replaceChildren();
    el.usersCount.textContent = '';
    el.sessions.replaceChildren();
    el.whoami.textContent = '';
    el.memberSince.textContent = '';
    el.signinFields.disabled = false;
    el.signupFields.disabled = false;
  }

  function showSignedIn(username) {
    document.body.dataset.state = 'signed-in';
    el.auth.hidden = true;
    el.panel.hidden = false;
    el.status.textContent = `Signed in as ${username}`;
    el.whoami.textContent = username;
    el.avatar.textContent = Array.from(username)[0]?.toUpperCase() || '?';
  }

  /** Forgets the token on this tab. */
  function forget() {
    store.remove(TOKEN_KEY);
    store.remove(USER_KEY);
    sessionsOn = null;
    delete document.body.dataset.sessions;
    showSignedOut();
  }

  /** Handles a failed authenticated request; returns nothing. */
  function authFailure(error) {
    if (error instanceof ApiError && error.status === 401) {
      forget();
      showMessage(`Your session has ended, please sign in again (${error.message}).`, 'error');
      return;
    }
    showMessage(errorText(error), 'error');
  }

  function renderUsers(users) {
    const me = store.get(USER_KEY);
    el.users.replaceChildren(
      ...users.map((name) => {
        const item = node('li', name === me ? 'me' : '', name);
        if (name === me) item.append(node('span', 'badge', 'you'));
        return item;
      }),
    );
    el.usersCount.textContent = String(users.length);
  }

  function renderSessions(sessions) {
    const sorted = [...sessions].sort((a, b) => Number(b.current) - Number(a.current));
    el.sessions.replaceChildren(
      ...sorted.map((session) => {
        const item = node('li', session.current ? 'session current' : 'session');
        item.dataset.id = session.id;
        const info = node('div', 'session-info');
        const title = node('p', 'session-title', describeAgent(session.user_agent));
        if (session.user_agent) title.title = session.user_agent;
        if (session.current) title.append(node('span', 'badge', 'this tab'));
        info.append(title);
        const where = session.client_addr ? `${session.client_addr} · ` : '';
        info.append(
          node(
            'p',
            'muted',
            `${where}signed in ${formatDate(session.created_at)} · last seen ${formatDate(session.last_seen_at)}`,
          ),
        );
        info.append(node('p', 'muted', `ends ${formatDate(session.expires_at)} unless used`));
        const button = node('button', 'btn btn-small session-logout', 'Log out');
        button.type = 'button';
        button.dataset.id = session.id;
        button.dataset.current = String(Boolean(session.current));
        button.setAttribute('aria-label', `Log out ${session.current ? 'this tab' : describeAgent(session.user_agent)}`);
        item.append(info, button);
        return item;
      }),
    );
  }

  async function loadSessions() {
    try {
      const sessions = await authed('GET', '/sessions');
      sessionsOn = true;
      document.body.dataset.sessions = 'on';
      el.sessionsCard.hidden = false;
      renderSessions(Array.isArray(sessions) ? sessions : []);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        // Sessions are off on this server: nothing to list or end.
        sessionsOn = false;
        document.body.dataset.sessions = 'off';
        el.sessionsCard.hidden = true;
        return;
      }
      throw error;
    }
  }

  /** Loads everything the signed-in panel shows, one request at a time. */
  async function loadPanel() {
    document.body.dataset.loaded = 'false';
    try {
      const me = await authed('GET', '/me');
      if (me && me.username) {
        store.set(USER_KEY, me.username);
        showSignedIn(me.username);
        el.memberSince.textContent = me.created_at ? `Member since ${formatDate(me.created_at)}` : '';
      }
      const secret = await authed('GET', '/secret');
      el.secret.textContent = secret && secret.message ? secret.message : '';
      const users = await authed('GET', '/users');
      renderUsers(Array.isArray(users) ? users : []);
      await loadSessions();
      document.body.dataset.loaded = 'true';
    } catch (error) {
      authFailure(error);
    }
  }

  async function enter(answer, welcome) {
    store.set(TOKEN_KEY, answer.token);
    store.set(USER_KEY, answer.user.username);
    showSignedIn(answer.user.username);
    showMessage(welcome, 'success');
    await loadPanel();
  }

  // ------------------------------------------------------------- actions --

  async function onSignup(event) {
    event.preventDefault();
    const username = el.signupUsername.value.trim();
    const password = el.signupPassword.value;
    if (!username || !password) {
      showMessage('Enter a username and a password.', 'error');
      return;
    }
    clearMessage();
    setBusy(el.signupFields, true);
    try {
      const answer = await request('POST', '/signup', { body: { username, password } });
      el.signupForm.reset();
      await enter(answer, `Welcome, ${answer.user.username}! Your account is ready.`);
    } catch (error) {
      el.signupPassword.value = '';
      showMessage(errorText(error), 'error');
    } finally {
      setBusy(el.signupFields, false);
    }
  }

  async function onSignin(event) {
    event.preventDefault();
    const username = el.signinUsername.value.trim();
    const password = el.signinPassword.value;
    if (!username || !password) {
      showMessage('Enter your username and password.', 'error');
      return;
    }
    clearMessage();
    setBusy(el.signinFields, true);
    try {
      const answer = await request('POST', '/signin', {
        authorization: `Basic ${base64Utf8(`${username}:${password}`)}`,
      });
      el.signinForm.reset();
      await enter(answer, `Signed in as ${answer.user.username}.`);
    } catch (error) {
      el.signinPassword.value = '';
      // A failed signin shows the server's words as they are: "Invalid Login".
      showMessage(errorText(error), 'error');
      el.signinPassword.focus();
    } finally {
      setBusy(el.signinFields, false);
    }
  }

  async function onLogout() {
    el.logout.disabled = true;
    try {
      if (sessionsOn) {
        // Ends the session on the server; its tokens stop working at once.
        await authed('DELETE', '/sessions/current');
      }
      // Without sessions a token cannot be revoked: forgetting it is all.
      forget();
      showMessage('You are signed out.', 'info');
    } catch (error) {
      forget();
      showMessage(
        error instanceof ApiError && error.status === 401
          ? 'You are signed out.'
          : `Signed out on this tab, but the server said: ${errorText(error)}`,
        error instanceof ApiError && error.status === 401 ? 'info' : 'error',
      );
    } finally {
      el.logout.disabled = false;
    }
  }

  async function onLogoutAll() {
    el.logoutAll.disabled = true;
    try {
      await authed('DELETE', '/sessions');
      forget();
      showMessage('You are signed out everywhere.', 'info');
    } catch (error) {
      authFailure(error);
    } finally {
      el.logoutAll.disabled = false;
    }
  }

  async function onSessionLogout(event) {
    const button = event.target.closest('button.session-logout');
    if (!button) return;
    if (button.dataset.current === 'true') {
      await onLogout();
      return;
    }
    button.disabled = true;
    try {
      await authed('DELETE', `/sessions/${encodeURIComponent(button.dataset.id)}`);
      showMessage('That session is logged out.', 'info');
      await loadSessions();
    } catch (error) {
      button.disabled = false;
      authFailure(error);
    }
  }

  async function onRefresh() {
    el.refresh.disabled = true;
    clearMessage();
    try {
      await loadPanel();
    } finally {
      el.refresh.disabled = false;
    }
  }

  // ---------------------------------------------------------------- start --

  el.signupForm.addEventListener('submit', onSignup);
  el.signinForm.addEventListener('submit', onSignin);
  el.logout.addEventListener('click', onLogout);
  el.logoutAll.addEventListener('click', onLogoutAll);
  el.sessions.addEventListener('click', onSessionLogout);
  el.refresh.addEventListener('click', onRefresh);

  if (store.get(TOKEN_KEY)) {
    // A reload: carry on with the token this tab already holds.
    showSignedIn(store.get(USER_KEY) || '…');
    loadPanel();
  } else {
    showSignedOut();
  }
})();
