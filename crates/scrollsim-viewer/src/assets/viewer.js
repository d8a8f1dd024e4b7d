// scrollsim viewer: the only script, served from /assets (no inline script, no CDN).
// It marks each keyframe once it has loaded (naturalWidth > 0) or failed, and keeps a count on
// <body data-keyframes="loaded/total">, so people see broken images and a headless browser
// test can read the result from the DOM. It never writes data into innerHTML.
(function () {
  "use strict";
  var imgs = Array.prototype.slice.call(document.querySelectorAll("img[data-keyframe]"));
  function update() {
    var loaded = imgs.filter(function (i) { return i.dataset.loaded === "yes"; }).length;
    var broken = imgs.filter(function (i) { return i.dataset.loaded === "broken"; }).length;
    document.body.dataset.keyframes = loaded + "/" + imgs.length;
    var status = document.getElementById("keyframe-status");
    if (status) {
      status.textContent = loaded + " of " + imgs.length + " keyframes loaded" +
        (broken ? ", " + broken + " missing" : "");
    }
  }
  imgs.forEach(function (img) {
    function mark() {
      img.dataset.loaded = img.complete && img.naturalWidth > 0 ? "yes" : "broken";
      update();
    }
    if (img.complete) { mark(); } else {
      img.addEventListener("load", mark);
      img.addEventListener("error", mark);
    }
  });
  update();
})();
