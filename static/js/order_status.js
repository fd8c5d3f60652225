// Polls the order's status every 2 s until it settles, and shows the matching paragraph;
// once it turns paid, leads on to the avatar's progress.
(function () {
  "use strict";
  var label = document.getElementById("order-status");
  if (!label) { return; }
  var SETTLED = ["paid", "refunded", "expired", "payment_failed"];
  var url = label.getAttribute("data-status-url");

  function show(status) {
    label.setAttribute("data-status", status);
    document.querySelectorAll("[data-shown-for]").forEach(function (element) {
      var statuses = element.getAttribute("data-shown-for").split(" ");
      element.hidden = statuses.indexOf(status) === -1;
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) {
          label.textContent = data.label;
          if (data.status !== label.getAttribute("data-status")) {
            show(data.status);
            // Seen being paid: go on to the avatar, where the training shows live.
            if (data.status === "paid" && label.getAttribute("data-paid-url")) {
              window.location.assign(label.getAttribute("data-paid-url"));
              return;
            }
          }
        }
        var status = label.getAttribute("data-status");
        if (SETTLED.indexOf(status) === -1) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  if (SETTLED.indexOf(label.getAttribute("data-status")) === -1) { window.setTimeout(poll, 2000); }
})();
