// The full-screen viewer: any .viewer-open button shows its picture in the #viewer dialog;
// the arrow keys step through the page's pictures, Escape or a tap on the picture closes it.
(function () {
  "use strict";
  var viewer = document.getElementById("viewer");
  if (!viewer) return;
  var image = document.getElementById("viewer-image");
  var openers = Array.prototype.slice.call(document.querySelectorAll(".viewer-open"));
  var sources = [];
  openers.forEach(function (button) {
    if (sources.indexOf(button.dataset.viewerSrc) === -1) sources.push(button.dataset.viewerSrc);
  });
  var shown = 0;

  function show(index) {
    shown = (index + sources.length) % sources.length;
    image.src = sources[shown];
  }

  openers.forEach(function (button) {
    button.addEventListener("click", function () {
      show(sources.indexOf(button.dataset.viewerSrc));
      viewer.showModal();
    });
  });
  image.addEventListener("click", function () { viewer.close(); });
  viewer.addEventListener("keydown", function (event) {
    if (event.key === "ArrowRight") show(shown + 1);
    if (event.key === "ArrowLeft") show(shown - 1);
  });
})();
