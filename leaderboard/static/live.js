// A submission's status refreshes by itself until it is scored or failed, with no page reload.
//
// An element with data-live="URL" names a small JSON status document and data-state its state when the page
// was made. While the document says not done, it is fetched again (every 1.5 s, slowing to every 10 s); when
// its state changes, the page is fetched in the background and the elements whose ids data-parts lists are
// swapped for their new versions. Anything typed or chosen elsewhere on the page (an upload form) stays.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var url = live.getAttribute("data-live");
  var parts = (live.getAttribute("data-parts") || "").split(/\s+/).filter(Boolean);
  var state = live.getAttribute("data-state");
  var delay = 1500;
  var stopAt = Date.now() + 60 * 60 * 1000;

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    parts.forEach(function (id) {
      var old = document.getElementById(id);
      var now = fresh.getElementById(id);
      if (old && now) old.replaceWith(document.importNode(now, true));
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (body) {
        var changed = body.state !== state;
        state = body.state;
        var next = function () {
          if (!body.done && Date.now() < stopAt) {
            delay = Math.min(delay * 1.3, 10000);
            setTimeout(poll, delay);
          }
        };
        if (!changed) return next();
        return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
          .then(function (page) { return page.text(); })
          .then(swap)
          .then(next);
      })
      .catch(function () { /* logged out or offline: the page stays as it is; a reload shows the news */ });
  }

  setTimeout(poll, delay);
})();
