// The phone view: poll the console's own JSON every 1-2 s and redraw the message list, newest first.
// Without JavaScript the page still works: it shows the messages as of its load and has a Refresh link.
(function () {
  "use strict";

  var list = document.querySelector(".sms-list[data-poll-url]");
  if (!list || !list.getAttribute("data-poll-url")) {
    return;
  }
  var url = list.getAttribute("data-poll-url");
  var interval = parseInt(list.getAttribute("data-poll-ms"), 10) || 1500;
  var sender = list.getAttribute("data-sender") || "";
  // The page's language: the template hands over its translated texts ({link}, {customer}, {sender}, {body}).
  function text(name, fallback, values) {
    var template = list.getAttribute("data-text-" + name) || fallback;
    return template.replace(/\{(\w+)\}/g, function (whole, key) { return key in values ? values[key] : whole; });
  }
  var empty = document.getElementById("sms-empty");
  var live = document.getElementById("phone-live");
  var announce = document.getElementById("phone-announce");
  var known = {};
  var stopped = false;

  Array.prototype.forEach.call(list.querySelectorAll(".sms[data-id]"), function (item) {
    known[item.getAttribute("data-id")] = true;
  });

  function paragraph(className, text) {
    var p = document.createElement("p");
    p.className = className;
    if (text !== undefined) {
      p.textContent = text;
    }
    return p;
  }

  // The message text with its one-time password in bold (the server says which digits: one pattern, in
  // issuer_sandbox/otp.py); text nodes only, never HTML from the server.
  function bodyWithCode(body, otp) {
    var p = paragraph("sms-body");
    var start = otp ? body.indexOf(otp + " ") : -1;
    if (start < 0) {
      p.textContent = body;
      return p;
    }
    p.appendChild(document.createTextNode(body.slice(0, start)));
    var strong = document.createElement("strong");
    strong.className = "sms-code";
    strong.textContent = otp;
    p.appendChild(strong);
    p.appendChild(document.createTextNode(body.slice(start + otp.length)));
    return p;
  }

  function item(message, isNew) {
    var li = document.createElement("li");
    li.className = isNew ? "sms sms-new" : "sms";
    li.setAttribute("data-id", String(message.id));
    li.appendChild(paragraph("sms-sender", sender));
    li.appendChild(bodyWithCode(message.body, message.otp));
    var time = document.createElement("time");
    time.setAttribute("datetime", message.sentAt);
    time.textContent = message.sentAtDisplay;
    var when = paragraph("sms-time");
    when.appendChild(time);
    li.appendChild(when);
    if (message.rewardLinkCode) {
      li.appendChild(paragraph("sms-link", text("link", "Link {link} · customer {customer}",
        { link: message.rewardLinkCode, customer: message.merchantCustomerReferenceId })));
    }
    return li;
  }

  function render(messages) {
    var fresh = messages.filter(function (message) { return !known[String(message.id)]; });
    var sameIds = fresh.length === 0 && messages.length === list.querySelectorAll(".sms[data-id]").length;
    if (sameIds) {
      return;
    }
    var fragment = document.createDocumentFragment();
    messages.forEach(function (message) {
      var id = String(message.id);
      fragment.appendChild(item(message, !known[id]));
    });
    known = {};
    messages.forEach(function (message) { known[String(message.id)] = true; });
    list.replaceChildren(fragment);
    if (empty) {
      empty.hidden = messages.length > 0;
    }
    if (fresh.length && announce) {
      announce.textContent = text("new", "New message from {sender}: {body}", { sender: sender, body: fresh[0].body });
    }
  }

  function schedule() {
    if (!stopped) {
      window.setTimeout(poll, interval);
    }
  }

  function poll() {
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          stopped = true;
          if (live) {
            live.textContent = text("signed-out", "Signed out: reload to sign in", {});
            live.classList.add("phone-live-off");
          }
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && Array.isArray(data.messages)) {
          render(data.messages);
        }
      })
      .catch(function () { /* the sandbox restarting is normal; try again on the next tick */ })
      .then(schedule);
  }

  if (live) {
    live.hidden = false;
  }
  schedule();
})();
