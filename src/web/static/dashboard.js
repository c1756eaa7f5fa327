// dashboard.js — boots the agent dashboard: staff sign-in gate, the account box, one shared
// STOMP connection with its visible state, then the current page (queue, workspace, analytics,
// knowledge-base editor).

import { api, accessToken, communicationsAfter, currentSession, isStaff, onSessionChange, signOut } from './api.js';
import { createStompClient } from './stomp-client.js';
import { wireSignIn } from './auth-forms.js';
import { $, flags, renderAccount, showConnectionState, showErrors, toast } from './ui.js';

const loaders = {
  queue: () => import('./queue-live.js'),
  workspace: () => import('./workspace.js'),
  analytics: () => import('./analytics.js'),
  'kb-editor': () => import('./kb-editor.js'),
};

/** The one app object of the dashboard, handed to the page module. */
const app = {
  get session() { return currentSession(); },
  me: null,
  socket: null,
  agents: [],
  /** Agent id → agent, and user id → display name (for conversations). */
  agentById: new Map(),
  nameByUser: new Map(),
  async loadAgents() {
    try {
      const page = await api('/agents', { query: { size: 100 } });
      app.agents = page.content;
      for (const agent of page.content) {
        app.agentById.set(agent.id, agent);
        app.nameByUser.set(agent.userId, agent.fullName);
      }
    } catch {
      app.agents = [];
    }
    return app.agents;
  },
};

function showGate(message) {
  $('[data-staff-app]').hidden = true;
  const gate = $('[data-staff-signin]');
  gate.hidden = false;
  if (message) showErrors($('[data-signin-form]', gate), { fieldErrors: [], message });
  $('#staff-email').focus();
}

/** The agent's own presence switch (AVAILABLE / BUSY / AWAY / OFFLINE), saved on change. */
function wirePresence(agent) {
  const box = $('[data-presence]');
  if (!box || !agent) return;
  const select = $('[data-presence-select]', box);
  select.value = agent.status;
  box.hidden = false;
  select.addEventListener('change', async () => {
    const previous = agent.status;
    try {
      const saved = await api(`/agents/${agent.id}/status`, { method: 'PUT', body: { status: select.value } });
      agent.status = saved.status;
      toast(`Status: ${select.options[select.selectedIndex].textContent}`);
    } catch {
      select.value = previous;
      toast('Could not change your status; try again.');
    }
  });
}

async function boot() {
  renderAccount($('.sidebar [data-account]'), app.session, {
    signInHref: '/support/dashboard',
    onSignOut: async () => {
      if (app.socket) app.socket.disconnect();
      await signOut();
      location.assign('/support/dashboard');
    },
  });
  if (!isStaff()) {
    showGate(app.session ? 'This area is for support staff. Sign in with a staff account.' : null);
    return;
  }
  try {
    app.me = await api('/auth/me');
  } catch {
    showGate('Your session has ended. Please sign in again.');
    return;
  }
  $('[data-staff-signin]').hidden = true;
  $('[data-staff-app]').hidden = false;
  wirePresence(app.me.agent);
  if (flags.websocket) {
    app.socket = createStompClient({ getToken: accessToken, fetchAfter: communicationsAfter });
    app.socket.onStateChange((state) => showConnectionState(state === 'idle' ? 'connecting' : state));
    app.socket.connect();
  } else {
    showConnectionState('polling');
  }
  const load = loaders[document.body.dataset.page];
  if (load) {
    const module = await load();
    await module.start(app);
  }
}

wireSignIn($('[data-signin-form]'), async (auth) => {
  if (auth.user.role === 'CUSTOMER') {
    await signOut();
    showGate('This area is for support staff. Customers can use the help center.');
    return;
  }
  location.reload();
});

onSessionChange((session) => {
  if (!session && app.me) showGate('You have been signed out.');
});

boot().catch((error) => {
  console.error(error);
  toast(error.message || 'Something went wrong.', 'error');
});
