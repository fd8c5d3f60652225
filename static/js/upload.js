// Sends each chosen or dropped photo on its own, two at a time, so every photo gets
// its verdict as soon as it is checked instead of after the whole batch.
(function () {
  "use strict";
  var intake = document.getElementById("intake");
  if (!intake) return;
  var form = document.getElementById("upload-form");
  var input = document.getElementById("photo-input");
  var grid = document.getElementById("photo-grid");
  var status = document.getElementById("upload-status");
  var bar = document.getElementById("readiness-bar");
  var readinessText = document.getElementById("readiness-text");
  var url = intake.dataset.uploadUrl;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var queue = [];
  var running = 0;
  var done = 0;
  var total = 0;
  var readyAtStart = bar.value >= bar.max;
  var readyNow = readyAtStart;

  function card(photo) {
    var li = document.createElement("li");
    li.className = "photo-card " + (photo.accepted ? "accepted" : "rejected");
    if (photo.id) li.dataset.photoId = photo.id;
    if (photo.image_url) {
      var img = document.createElement("img");
      img.src = photo.image_url;
      img.alt = photo.name;
      li.appendChild(img);
    } else {
      var ph = document.createElement("div");
      ph.className = "photo-placeholder";
      li.appendChild(ph);
    }
    var name = document.createElement("p");
    name.className = "photo-name";
    name.textContent = photo.name;
    li.appendChild(name);
    var verdict = document.createElement("p");
    verdict.className = "verdict";
    verdict.textContent = photo.accepted ? "Good photo" : photo.reason;
    li.appendChild(verdict);
    return li;
  }

  function render(data) {
    // The server's list is the truth: a later photo can change an earlier verdict
    // (for example once the set shows who the avatar is of).
    if (data.photos) {
      grid.replaceChildren.apply(grid, data.photos.map(card));
    }
    if (data.readiness) {
      var r = data.readiness;
      bar.max = r.required;
      bar.value = r.accepted;
      readyNow = r.ready;
      readinessText.textContent = r.ready
        ? r.accepted + " good photos: ready to train."
        : r.accepted + " of " + r.required + " good photos: " + r.missing + " more needed.";
    }
  }

  function next() {
    while (running < 2 && queue.length) {
      running += 1;
      send(queue.shift());
    }
    if (done < total) {
      status.textContent = "Checking photos: " + done + " of " + total + " done";
      return;
    }
    status.textContent = "All photos checked.";
    // The pay step is rendered by the server: show it as soon as the set is good enough.
    if (readyNow !== readyAtStart) window.location.reload();
  }

  function send(file) {
    var body = new FormData();
    body.append("photos", file);
    fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data.error && data.error.message) || "Upload failed");
          render(data);
        });
      })
      .catch(function (error) {
        grid.appendChild(card({ name: file.name, accepted: false, reason: error.message }));
      })
      .finally(function () {
        running -= 1;
        done += 1;
        next();
      });
  }

  function add(files) {
    for (var i = 0; i < files.length; i += 1) queue.push(files[i]);
    total += files.length;
    next();
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.remove("dragging");
    });
  });
  form.addEventListener("drop", function (event) {
    add(event.dataTransfer.files);
  });
})();
