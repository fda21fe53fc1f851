// Keeps a submission page current while it is in flight: every few seconds it fetches the page
// again (same cookie) and swaps in the part marked #live, until the status is terminal.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || live.dataset.terminal === "true") {
    return;
  }
  var every = Number(live.dataset.refreshMs) || 3000;

  function tick() {
    fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (resp) {
        return resp.ok ? resp.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          setTimeout(tick, every);
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh) {
          return; // logged out meanwhile: the page no longer shows the submission
        }
        var node = document.importNode(fresh, true);
        live.replaceWith(node);
        live = node;
        if (live.dataset.terminal !== "true") {
          setTimeout(tick, every);
        }
      })
      .catch(function () {
        setTimeout(tick, every); // a network hiccup: try again
      });
  }

  setTimeout(tick, every);
})();
