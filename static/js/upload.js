// The upload page without reloads: each chosen or dropped photo is sent on its own, two at
// a time, so every photo gets its verdict as soon as it is checked; each ticked style is
// saved at once; the pay box follows both.
(function () {
  "use strict";
  var intake = document.getElementById("intake");
  if (!intake) return;
  var form = document.getElementById("upload-form");
  var input = document.getElementById("photo-input");
  var grid = document.getElementById("photo-grid");
  var refusedBox = document.getElementById("refused-photos");
  var refusedGrid = document.getElementById("refused-grid");
  var refusedCount = document.getElementById("refused-count");
  var status = document.getElementById("upload-status");
  var bar = document.getElementById("readiness-bar");
  var readinessText = document.getElementById("readiness-text");
  var pay = document.getElementById("pay");
  var stylesForm = document.getElementById("styles-form");
  var stylesStatus = document.getElementById("styles-status");
  var url = intake.dataset.uploadUrl;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var queue = [];
  var running = 0;
  var done = 0;
  var total = 0;

  // "/avatars/<id>/photos/0/remove/" names photo 0: swapped for the real id.
  function photoUrl(template, id) {
    return template.replace("/photos/0/", "/photos/" + id + "/");
  }

  // The server's words, kept in the page; this only shows the right one.
  function showPay() {
    var ready = pay.dataset.ready === "true";
    var missing = Number(pay.dataset.missing);
    var chosen = Number(pay.dataset.chosen);
    var state = !ready ? "photos" : chosen ? "pay" : "styles";
    pay.querySelectorAll("[data-pay-state]").forEach(function (element) {
      element.hidden = element.dataset.payState !== state;
    });
    pay.querySelector("[data-pay-missing]").textContent = interpolate(
      ngettext("Add %(missing)s more good photo to continue.", "Add %(missing)s more good photos to continue.", missing),
      { missing: missing }, true);
  }

  // The earlier photo a refused copy matches, so the person sees which one it repeats.
  function duplicateMatch(original) {
    var figure = document.createElement("figure");
    figure.className = "duplicate-match";
    if (original.image_url) {
      var img = document.createElement("img");
      img.src = photoUrl(intake.dataset.thumbnailUrl, original.id);
      img.alt = "";
      img.width = 48;
      img.height = 48;
      figure.appendChild(img);
    }
    var caption = document.createElement("figcaption");
    caption.textContent = interpolate(gettext("Same shot as %(name)s"), { name: original.name }, true);
    figure.appendChild(caption);
    return figure;
  }

  function card(photo) {
    var li = document.createElement("li");
    li.className = "photo-card " + (photo.accepted ? "accepted" : "rejected");
    if (photo.id) li.dataset.photoId = photo.id;
    if (photo.has_thumbnail && photo.id) {
      var img = document.createElement("img");
      img.src = photoUrl(intake.dataset.thumbnailUrl, photo.id);
      img.alt = photo.name;
      img.width = 320;
      img.height = 320;
      li.appendChild(img);
    } else {
      var placeholder = document.createElement("div");
      placeholder.className = "photo-placeholder";
      placeholder.setAttribute("role", "img");
      placeholder.setAttribute("aria-label", gettext("Not kept"));
      var words = document.createElement("span");
      words.textContent = gettext("Not kept");
      placeholder.appendChild(words);
      li.appendChild(placeholder);
    }
    var name = document.createElement("p");
    name.className = "photo-name";
    name.textContent = photo.name;
    li.appendChild(name);
    var verdict = document.createElement("p");
    verdict.className = "verdict";
    verdict.textContent = photo.accepted ? gettext("Good photo") : photo.reason;
    li.appendChild(verdict);
    if (photo.duplicate_of) li.appendChild(duplicateMatch(photo.duplicate_of));
    if (photo.id) {
      var remove = document.createElement("form");
      remove.method = "post";
      remove.action = photoUrl(intake.dataset.removeUrl, photo.id);
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrfmiddlewaretoken";
      token.value = csrf;
      var button = document.createElement("button");
      button.className = "link";
      button.type = "submit";
      button.textContent = gettext("Remove");
      remove.append(token, button);
      li.appendChild(remove);
    }
    return li;
  }

  function showRefused() {
    var count = refusedGrid.children.length;
    refusedCount.textContent = "(" + count + ")";
    refusedBox.hidden = count === 0;
  }

  function render(data) {
    // The server's list is the truth: a later photo can change an earlier verdict
    // (for example once the set shows who the avatar is of).
    if (data.photos) {
      // Good photos first, the newest on top; the refused apart, to be cleared.
      var newestFirst = data.photos.slice().reverse();
      var good = newestFirst.filter(function (photo) { return photo.accepted; });
      var refused = newestFirst.filter(function (photo) { return !photo.accepted; });
      grid.replaceChildren.apply(grid, good.map(card));
      refusedGrid.replaceChildren.apply(refusedGrid, refused.map(card));
      showRefused();
    }
    if (data.readiness) {
      var r = data.readiness;
      bar.max = r.required;
      bar.value = r.accepted;
      readinessText.textContent = r.ready
        ? interpolate(gettext("%(accepted)s good photos: ready to train."), { accepted: r.accepted }, true)
        : interpolate(gettext("%(accepted)s of %(required)s good photos: %(missing)s more needed."),
          { accepted: r.accepted, required: r.required, missing: r.missing }, true);
      pay.dataset.ready = r.ready ? "true" : "false";
      pay.dataset.missing = r.missing;
      showPay();
    }
  }

  function next() {
    while (running < 2 && queue.length) {
      running += 1;
      send(queue.shift());
    }
    status.textContent = done < total
      ? interpolate(gettext("Checking photos: %(done)s of %(total)s done"), { done: done, total: total }, true)
      : gettext("All photos checked.");
  }

  function send(file) {
    var body = new FormData();
    body.append("photos", file);
    fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data.error && data.error.message) || gettext("Upload failed"));
          render(data);
        });
      })
      .catch(function (error) {
        refusedGrid.prepend(card({ name: file.name, accepted: false, reason: error.message }));
        showRefused();
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

  function saveStyles(changed) {
    stylesStatus.textContent = gettext("Saving…");
    stylesStatus.className = "styles-status";
    fetch(stylesForm.action, {
      method: "POST", body: new FormData(stylesForm), credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data.error && data.error.message) || gettext("Could not save the styles."));
          pay.dataset.chosen = data.chosen;
          stylesStatus.textContent = data.message;
          stylesStatus.classList.add("saved");
          showPay();
        });
      })
      .catch(function (error) {
        // The server kept the styles it had: the page shows them again.
        if (changed && changed.name === "templates") changed.checked = !changed.checked;
        pay.dataset.chosen = stylesForm.querySelectorAll("input[name=templates]:checked").length;
        stylesStatus.textContent = error.message;
        stylesStatus.classList.add("error");
        showPay();
      });
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
  // Each tick is saved as it is made; the button stays for pages without JavaScript.
  document.getElementById("styles-save").hidden = true;
  stylesForm.addEventListener("change", function (event) { saveStyles(event.target); });
  stylesForm.addEventListener("submit", function (event) {
    event.preventDefault();
    saveStyles(null);
  });
})();
