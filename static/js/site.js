// Small progressive enhancements shared by every page; the site works without them.
(function () {
  "use strict";

  function collapsibleNav() {
    var header = document.querySelector(".site-header");
    var toggle = header && header.querySelector(".nav-toggle");
    if (!toggle) return;
    header.classList.add("nav-collapsible");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = open ? gettext("Close") : gettext("Menu");
    });
  }

  // <form data-confirm="Delete this portrait?"> asks before it submits.
  function confirmForms() {
    document.addEventListener("submit", function (event) {
      var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
      if (message && !window.confirm(message)) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    collapsibleNav();
    confirmForms();
  });
})();
