// The full-screen viewer: every portrait of the avatar (the page's #viewer-portraits list, in
// the order of the avatar's page), each with its caption, engine and download. The arrow keys
// step through them; Escape or a tap on the picture closes it. With the viewer closed, the
// arrow keys open the previous or next portrait's page.
(function () {
  "use strict";
  var viewer = document.getElementById("viewer");
  var data = document.getElementById("viewer-portraits");
  if (!viewer || !data) return;
  var portraits = JSON.parse(data.textContent);
  if (!portraits.length) return;
  var image = document.getElementById("viewer-image");
  var caption = document.getElementById("viewer-caption");
  var engine = document.getElementById("viewer-engine");
  var position = document.getElementById("viewer-position");
  var download = document.getElementById("viewer-download");
  var shown = Number(viewer.dataset.start) || 0;

  function show(index) {
    shown = (index + portraits.length) % portraits.length;
    var portrait = portraits[shown];
    image.src = portrait.src;
    image.alt = portrait.caption;
    caption.textContent = portrait.caption;
    engine.textContent = portrait.engine;
    engine.hidden = !portrait.engine;
    engine.classList.toggle("test-output", portrait.test_output);
    position.textContent = (shown + 1) + " / " + portraits.length;
    download.href = portrait.download;
  }

  Array.prototype.forEach.call(document.querySelectorAll(".viewer-open"), function (button) {
    button.addEventListener("click", function () {
      show(Number(button.dataset.viewerIndex) || 0);
      viewer.showModal();
    });
  });
  document.getElementById("viewer-previous").addEventListener("click", function () { show(shown - 1); });
  document.getElementById("viewer-next").addEventListener("click", function () { show(shown + 1); });
  image.addEventListener("click", function () { viewer.close(); });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    var forward = event.key === "ArrowRight";
    if (viewer.open) {
      event.preventDefault();
      show(shown + (forward ? 1 : -1));
      return;
    }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var link = document.getElementById(forward ? "next-portrait" : "previous-portrait");
    if (link) window.location.assign(link.href);
  });
})();
