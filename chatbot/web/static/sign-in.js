// Sign-in form: POSTs the token, or the user and password, as JSON; the answer sets the cookie.
"use strict";
(function () {
  const form = document.getElementById("sign-in");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const input of form.querySelectorAll("input")) body[input.name] = input.value;
    const answer = await fetch("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (answer.ok) {
      location.replace("/");
    } else {
      document.getElementById("sign-in-error").hidden = false;
    }
  });
})();
