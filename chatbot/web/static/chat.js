// The chat page. Everything a model, a tool or a file name says is put in as text
// (textContent), except replies, which the server renders to sanitised HTML (nh3)
// and which enter the page only through the one Trusted Types policy below.
// One streamed POST per turn; nothing stays open between turns.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("texts").textContent);
  const policy = window.trustedTypes
    ? window.trustedTypes.createPolicy("chatbot-html", { createHTML: (s) => s })
    : { createHTML: (s) => s };
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const input = $("input");
  const state = { chat: "", turn: null, streaming: false, attachments: [], status: null };

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  }
  function setHTML(node, html) {
    node.innerHTML = policy.createHTML(html);
    addCopyButtons(node);
  }
  function addCopyButtons(node) {
    for (const pre of node.querySelectorAll("pre")) {
      if (pre.querySelector(":scope > button.copy")) continue;
      const button = el("button", { type: "button", class: "copy", "aria-label": T.copy_code, text: T.copy });
      button.addEventListener("click", async () => {
        const code = pre.querySelector("code");
        await copyText((code || pre).textContent);
        button.textContent = T.copied;
        setTimeout(() => (button.textContent = T.copy), 1500);
      });
      pre.prepend(button);
    }
  }
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const area = el("textarea", { class: "offscreen" });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  }
  function notice(text, level) {
    const line = el("p", { class: "notice " + (level || "hint"), text });
    $("notices").replaceChildren(line);
  }
  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  async function api(path, options) {
    const answer = await fetch(path, Object.assign({ headers: { "content-type": "application/json" } }, options || {}));
    let data = null;
    try {
      data = await answer.json();
    } catch (_) {
      data = {};
    }
    if (!answer.ok) throw new Error(data.error || answer.statusText);
    return data;
  }
  const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body || {}) });

  // -- messages ------------------------------------------------------------------

  function userMessage(text, files) {
    const node = el("div", { class: "message user", "data-role": "user" }, [
      el("div", { class: "who", text: T.you }),
      el("div", { class: "text", text }),
    ]);
    if (files) node.append(el("div", { class: "files muted", text: files }));
    messages.append(node);
    markLast();
    return node;
  }
  function assistantMessage() {
    const node = el("div", { class: "message assistant", "data-role": "assistant" }, [
      el("div", { class: "who", text: T.assistant }),
    ]);
    node.reply = el("div", { class: "reply" });
    node.tail = el("div", { class: "reply tail" });
    node.append(node.reply, node.tail);
    messages.append(node);
    return node;
  }
  function thinkingBox(node, open) {
    if (!node.thinking) {
      node.thinking = el("details", { class: "thinking", open: open ? "" : null }, [
        el("summary", { text: T.thinking }),
        el("div", { class: "thought" }),
      ]);
      node.insertBefore(node.thinking, node.reply);
    }
    return node.thinking;
  }
  function outcomeLine(node, text, level, actions) {
    const line = el("div", { class: "outcome " + (level || "hint") }, [el("span", { text })]);
    for (const action of actions || []) {
      line.append(el("button", { type: "button", class: "action-" + action, text: T[action], onclick: () => act(action) }));
    }
    node.append(line);
  }
  function sourceLines(node, lines) {
    if (!node || !lines || !lines.length) return;
    node.append(el("div", { class: "sources" }, lines.map((text) => el("div", { class: "source", text }))));
  }
  function errorLine(text) {
    messages.append(el("div", { class: "error", role: "alert", text }));
  }
  function markLast() {
    for (const old of messages.querySelectorAll(".edit-last")) old.remove();
    const users = messages.querySelectorAll('[data-role="user"]');
    const last = users[users.length - 1];
    if (last && !state.streaming) {
      last.append(el("button", { type: "button", class: "edit-last quiet", text: T.edit, onclick: () => startEdit(last) }));
    }
    for (const old of messages.querySelectorAll(".regenerate")) old.remove();
    const replies = messages.querySelectorAll('[data-role="assistant"]');
    const reply = replies[replies.length - 1];
    if (reply && !state.streaming && !reply.querySelector(".action-retry")) {
      reply.append(el("button", { type: "button", class: "regenerate quiet", text: T.retry, onclick: () => act("retry") }));
    }
  }
  function startEdit(node) {
    const text = node.querySelector(".text");
    const box = el("textarea", { class: "edit-box", "aria-label": T.edit });
    box.value = text.textContent;
    const done = () => {
      box.remove();
      bar.remove();
      text.hidden = false;
    };
    const bar = el("div", { class: "edit-bar" }, [
      el("button", { type: "button", text: T.save_edit, onclick: () => { const value = box.value; done(); runTurn("edit", value, [], node); } }),
      el("button", { type: "button", class: "quiet", text: T.cancel, onclick: done }),
    ]);
    text.hidden = true;
    node.insertBefore(box, text);
    node.insertBefore(bar, text);
    box.focus();
  }

  // -- a turn: one streamed request --------------------------------------------------

  function setStreaming(on) {
    state.streaming = on;
    const actions = $("actions");
    if (on) {
      actions.replaceChildren(el("button", { type: "button", id: "stop", "aria-label": "Stop", text: T.stop, onclick: stop }));
    } else {
      actions.replaceChildren(el("button", { type: "submit", id: "send", "aria-label": "Send", text: T.send }));
    }
    $("persona").disabled = on;
    $("model").disabled = on;
    markLast();
  }
  async function stop() {
    if (state.turn) {
      try {
        await post("/api/turns/" + encodeURIComponent(state.turn) + "/stop");
      } catch (_) {
        /* it ended meanwhile */
      }
    }
  }
  function act(action) {
    if (state.streaming) return notice(T.busy, "warning");
    for (const old of messages.querySelectorAll(".outcome")) old.remove();
    if (action === "retry") {
      // Everything after the newest question goes: its reply is asked for afresh.
      const users = messages.querySelectorAll('[data-role="user"]');
      const last = users[users.length - 1];
      let node = last ? last.nextSibling : null;
      while (node) {
        const next = node.nextSibling;
        node.remove();
        node = next;
      }
    }
    runTurn(action, "", []);
  }

  async function runTurn(action, text, attachmentIds, editing) {
    if (state.streaming) return;
    $("notices").replaceChildren();
    // An error belongs to the attempt that met it (a reload never shows one): the next
    // turn, a message sent again after a refusal say, starts without the old line.
    for (const old of messages.querySelectorAll(".error")) old.remove();
    let sent = null;
    let refusal = null;
    if (action === "send") {
      sent = userMessage(text, state.attachments.map((a) => a.line).join(", "));
    } else if (action === "edit" && editing) {
      editing.querySelector(".text").textContent = text;
      let node = editing.nextSibling;
      while (node) {
        const next = node.nextSibling;
        node.remove();
        node = next;
      }
    } else if (action === "continue") {
      userMessage(T.continue, "");
    }
    setStreaming(true);
    // A message typed before the page has its chat waits for it instead of failing.
    await ready;
    let current = null;
    let toolBox = null;
    const reply = () => current || (current = assistantMessage());
    try {
      const answer = await fetch("/api/turns", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ chat: state.chat, action, text, attachments: attachmentIds }),
      });
      if (!answer.ok) {
        let data = {};
        try {
          data = await answer.json();
        } catch (_) {}
        const refused = new Error(data.error || answer.statusText);
        refused.refused = true;
        throw refused;
      }
      const reader = answer.body.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          if (!line) continue;
          const event = JSON.parse(line);
          switch (event.t) {
            case "start":
              state.turn = event.turn;
              state.chat = event.chat;
              break;
            case "reply":
              current = assistantMessage();
              current.thinkMode = event.think;
              break;
            case "think": {
              const box = thinkingBox(reply(), true);
              box.querySelector(".thought").append(document.createTextNode(event.text));
              break;
            }
            case "think_end":
              if (current && current.thinking) {
                current.thinking.querySelector("summary").textContent = T.thought;
                if (current.thinkMode !== "show") current.thinking.open = false;
              }
              break;
            case "block": {
              const node = reply();
              const block = el("div", { class: "block" });
              setHTML(block, event.html);
              node.reply.append(block);
              setHTML(node.tail, event.tail || "");
              break;
            }
            case "tail":
              setHTML(reply().tail, event.html);
              break;
            case "ask":
              toolBox = askCard(event);
              break;
            case "answered":
              if (toolBox) toolBox.remove();
              toolBox = null;
              break;
            case "tool":
              current = null;
              messages.append(el("div", { class: "tool-line", "data-role": "tool", text: "⚙ #" + event.n + " " + event.name + (event.brief ? " " + event.brief : "") + (event.outcome ? " → " + event.outcome : " …") }));
              break;
            case "tool_progress": {
              const lines = messages.querySelectorAll(".tool-line");
              const last = lines[lines.length - 1];
              if (last) {
                last.dataset.base = last.dataset.base || last.textContent;
                last.textContent = last.dataset.base + " " + event.text;
              }
              break;
            }
            case "tool_done": {
              const lines = messages.querySelectorAll(".tool-line");
              const last = lines[lines.length - 1];
              if (last) last.textContent = (last.dataset.base || last.textContent).replace(/ …$/, "") + " " + event.outcome;
              break;
            }
            case "notice":
              notice(event.text, event.level);
              break;
            case "retrying":
              notice(format(T.retrying, event), "warning");
              break;
            case "budget":
              notice(format(T[event.key], event), "warning");
              break;
            case "sources":
              sourceLines(reply(), event.lines);
              break;
            case "outcome":
              outcomeLine(reply(), event.text || T[event.key] || "", event.level, event.actions);
              break;
            case "error": {
              const node = el("div", { class: "error", role: "alert" }, [el("span", { text: event.text })]);
              if (event.hint && T[event.hint]) node.append(el("div", { class: "muted", text: T[event.hint] }));
              for (const a of event.actions || []) node.append(el("button", { type: "button", class: "action-" + a, text: T[a], onclick: () => act(a) }));
              messages.append(node);
              break;
            }
            case "done":
              showStatus(event.state);
              break;
          }
          scrollDown();
        }
      }
    } catch (error) {
      if (error.refused && sent) {
        // Refused before anything was asked (too many replies at once, say): the
        // message was never sent, so it goes back into the box to send again.
        sent.remove();
        markLast();
        if (!input.value) input.value = text;
      }
      refusal = error.refused && !sent ? error.message : null;
      errorLine(error.message || T.network);
    } finally {
      state.turn = null;
      setStreaming(false);
      const stored = state.status && state.status.conversation;
      if (refusal && stored) {
        // A regenerate or an edit refused changed nothing on the server: show what it
        // keeps (the page had already taken the old reply away), then why.
        try {
          await openConversation(stored);
          errorLine(refusal);
        } catch (_) {
          // The refusal's own line is already shown; a reload of the chat shows the rest.
        }
      }
      refreshList();
      if (state.status && state.status.conversation) history.replaceState(null, "", "#c" + state.status.conversation);
    }
  }

  function askCard(event) {
    const card = el("div", { class: "ask", role: "group", "aria-label": event.shell ? T.tool_shell : T.tool_wants }, [
      el("p", { text: (event.shell ? T.tool_shell : T.tool_wants) + ": " + event.name }),
      el("pre", { class: "arguments", text: event.arguments }),
    ]);
    const verdicts = event.always ? ["run", "deny", "always"] : ["run", "deny"];
    const bar = el("div", { class: "ask-buttons" });
    for (const verdict of verdicts) {
      bar.append(
        el("button", {
          type: "button",
          class: "verdict-" + verdict,
          text: T[verdict],
          onclick: async () => {
            for (const b of bar.querySelectorAll("button")) b.disabled = true;
            try {
              await post("/api/turns/" + encodeURIComponent(state.turn) + "/answer", { verdict });
            } catch (error) {
              notice(error.message, "error");
            }
          },
        }),
      );
    }
    card.append(bar);
    messages.append(card);
    bar.querySelector("button").focus();
    return card;
  }

  // -- status, pickers, conversations --------------------------------------------------

  function showStatus(status) {
    if (!status) return;
    state.status = status;
    state.chat = status.chat;
    $("persona").value = status.persona;
    ensureOption($("model"), status.model);
    $("model").value = status.model;
    const context = status.context;
    const parts = [
      T.context + " " + (context.exact ? "" : "~") + context.tokens.toLocaleString() + "/" + context.window.toLocaleString(),
    ];
    if (status.tokens) parts.push((status.estimated ? "~" : "") + status.tokens.toLocaleString() + " " + T.session_tokens);
    if (status.cost) parts.push(status.cost);
    $("status").textContent = parts.join(" · ");
    $("status").className = context.fraction > 0.9 ? "full" : "";
    state.attachments = status.attachments || [];
    showAttachments();
  }
  function ensureOption(select, value) {
    if (value && ![...select.options].some((o) => o.value === value)) select.append(el("option", { value, text: value }));
  }
  function showAttachments() {
    const box = $("attachments");
    box.replaceChildren();
    for (const item of state.attachments) {
      box.append(
        el("span", { class: "chip" }, [
          el("span", { text: item.line }),
          el("button", { type: "button", class: "quiet", "aria-label": T.remove + " " + item.name, text: "×", onclick: () => detach(item.id) }),
        ]),
      );
    }
  }
  async function detach(id) {
    const data = await api("/api/attachments?chat=" + encodeURIComponent(state.chat) + "&id=" + encodeURIComponent(id), { method: "DELETE" });
    showStatus(data.status);
  }
  async function attach(files) {
    for (const file of files) {
      try {
        const answer = await fetch("/api/attachments?chat=" + encodeURIComponent(state.chat) + "&name=" + encodeURIComponent(file.name || "pasted"), {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body: file,
        });
        const data = await answer.json();
        if (!answer.ok) throw new Error(data.error);
        showStatus(data.status);
      } catch (error) {
        notice(error.message, "error");
      }
    }
  }

  async function load(chat) {
    const data = await api("/api/state" + (chat ? "?chat=" + encodeURIComponent(chat) : ""));
    const persona = $("persona");
    persona.replaceChildren(...data.personas.map((p) => el("option", { value: p.name, text: p.name, title: p.description })));
    const model = $("model");
    model.replaceChildren(...data.models.map((m) => el("option", { value: m, text: m })));
    $("sign-out").hidden = data.signin === "link";
    showStatus(data.status);
  }
  async function openConversation(id) {
    if (state.streaming) return notice(T.busy, "warning");
    const data = await api("/api/conversations/" + encodeURIComponent(id));
    messages.replaceChildren();
    for (const m of data.messages) {
      if (m.role === "user") userMessage(m.text, m.files);
      else if (m.role === "tool") messages.append(el("div", { class: "tool-line", "data-role": "tool", text: "⚙ " + m.name + " → " + m.outcome }));
      else {
        const node = assistantMessage();
        if (m.thinking) {
          const box = thinkingBox(node, false);
          box.querySelector("summary").textContent = T.thought;
          box.querySelector(".thought").textContent = m.thinking;
        }
        setHTML(node.reply, m.html);
        for (const call of m.calls) node.append(el("div", { class: "tool-line", text: "⚙ " + call }));
        sourceLines(node, m.sources);
        if (m.outcome) outcomeLine(node, m.outcome, m.level, []);
      }
    }
    showStatus(data.status);
    markLast();
    history.replaceState(null, "", "#c" + id);
    closeMenu();
    scrollDown();
  }
  let listTimer = null;
  async function refreshList() {
    const search = $("search").value.trim();
    const data = await api("/api/conversations" + (search ? "?search=" + encodeURIComponent(search) : ""));
    const list = $("conversation-list");
    list.replaceChildren();
    for (const c of data.conversations) {
      const current = state.status && state.status.conversation === c.id;
      const item = el("li", { class: current ? "current" : "", "data-id": c.id }, [
        el("button", { type: "button", class: "open", text: c.title || "#" + c.id, title: c.snippet || c.model, onclick: () => openConversation(c.id) }),
        el("span", { class: "item-actions" }, [
          el("button", { type: "button", class: "quiet rename", "aria-label": T.rename, title: T.rename, text: "✎", onclick: () => rename(c) }),
          el("a", { class: "quiet", href: "/api/conversations/" + c.id + "/export?format=md", download: "", "aria-label": T.export_md, title: T.export_md, text: "⤓" }),
          el("a", { class: "quiet", href: "/api/conversations/" + c.id + "/export?format=json", download: "", "aria-label": T.export_json, title: T.export_json, text: "{}" }),
          el("button", { type: "button", class: "quiet delete", "aria-label": T.delete, title: T.delete, text: "✕", onclick: () => remove(c) }),
        ]),
      ]);
      if (c.snippet) item.append(el("div", { class: "snippet muted", text: c.snippet }));
      list.append(item);
    }
    $("no-conversations").hidden = data.conversations.length > 0;
  }
  async function rename(c) {
    const title = window.prompt(T.rename_prompt, c.title || "");
    if (title === null || !title.trim()) return;
    await api("/api/conversations/" + c.id, { method: "PATCH", body: JSON.stringify({ title }) });
    refreshList();
  }
  async function remove(c) {
    if (!window.confirm(T.confirm_delete)) return;
    await api("/api/conversations/" + c.id, { method: "DELETE" });
    if (state.status && state.status.conversation === c.id) newChat();
    refreshList();
  }
  async function newChat() {
    if (state.streaming) return notice(T.busy, "warning");
    messages.replaceChildren();
    $("notices").replaceChildren();
    history.replaceState(null, "", "#");
    await load("");
    closeMenu();
    input.focus();
  }
  async function changeSettings(change) {
    await ready;
    try {
      const data = await post("/api/chats/" + encodeURIComponent(state.chat) + "/settings", change);
      showStatus(data.status);
      if (data.greeting) notice(data.greeting, "hint");
    } catch (error) {
      notice(error.message, "error");
      showStatus(state.status);
    }
  }
  function closeMenu() {
    document.body.classList.remove("menu-open");
    $("menu").setAttribute("aria-expanded", "false");
  }

  // -- input ------------------------------------------------------------------------

  function submit() {
    const text = input.value;
    if (state.streaming || (!text.trim() && !state.attachments.length)) return;
    const ids = state.attachments.map((a) => a.id);
    input.value = "";
    runTurn("send", text, ids);
  }
  input.addEventListener("keydown", (event) => {
    // An input method still converting (Japanese, Chinese…) owns Enter: never send then.
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;
    if (event.shiftKey) return;
    event.preventDefault();
    submit();
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", () => {
    attach([...$("file").files]);
    $("file").value = "";
  });
  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (files.length) {
      event.preventDefault();
      attach(files);
    }
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    $("drop").hidden = false;
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) $("drop").hidden = true;
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    $("drop").hidden = true;
    attach([...event.dataTransfer.files]);
  });
  $("persona").addEventListener("change", () => changeSettings({ persona: $("persona").value }));
  $("model").addEventListener("change", () => changeSettings({ model: $("model").value }));
  $("new-chat").addEventListener("click", newChat);
  $("search").addEventListener("input", () => {
    clearTimeout(listTimer);
    listTimer = setTimeout(refreshList, 200);
  });
  $("menu").addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
  $("sign-out").addEventListener("click", async () => {
    await post("/api/logout");
    location.replace("/");
  });

  // A conversation id in the address (#c12) reopens it; nothing in the URL is ever sent.
  const wanted = /^#c(\d+)$/.exec(location.hash);
  const ready = (async () => {
    try {
      if (wanted) {
        await load(wanted[1]);
        await openConversation(wanted[1]);
      } else {
        await load("");
      }
      await refreshList();
    } catch (error) {
      notice(error.message || T.network, "error");
    }
    input.focus();
  })();
})();
