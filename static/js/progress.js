// Polls the avatar's progress every two seconds and updates the page in place;
// reloads once when new portraits arrive so they show with their actions, and folds the
// list of steps away once everything is done.
// A tab in the background polls every thirty seconds (training takes minutes and people
// look away); coming back to it polls at once.
// Each poll sends back the ETag of the last answer: while nothing changed the server answers
// an empty 304 and the page stays as it is.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  var VISIBLE_DELAY = 2000;
  var HIDDEN_DELAY = 30000;
  var timer = null;
  var asking = false;
  var finished = box.dataset.done === "true";
  var url = box.dataset.progressUrl;
  var bar = document.getElementById("overall-progress");
  var summary = document.getElementById("progress-summary");
  var list = document.getElementById("job-list");
  var details = list.closest("details");
  var shown = document.querySelectorAll("#portrait-grid .portrait-card").length;
  var badge = document.getElementById("avatar-badge");
  var etag = null;

  function line(job) {
    var li = document.createElement("li");
    li.className = "job status-" + job.status;
    var label = document.createElement("span");
    label.textContent = job.label;
    var detail = document.createElement("span");
    detail.className = "muted";
    detail.textContent = " " + job.state_words;
    var meter = document.createElement("progress");
    meter.max = 100;
    meter.value = job.progress;
    li.append(label, detail, meter);
    return li;
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, document.hidden ? Math.max(delay, HIDDEN_DELAY) : delay);
  }

  function show(data) {
    if (badge) {
      badge.className = "badge status-" + data.badge_status;
      badge.textContent = data.badge_label;
    }
    bar.value = data.overall_progress;
    summary.textContent = data.summary;
    list.replaceChildren.apply(list, data.jobs.map(line));
    details.querySelector("summary").textContent = interpolate(gettext("Every step (%(count)s)"), { count: data.jobs.length }, true);
    if (data.portrait_count !== shown) {
      window.location.reload();
      return;
    }
    finished = data.done || data.failed;
    if (data.done) {
      box.classList.add("done");
      bar.hidden = true;
      details.open = false;
    }
    if (!finished) schedule(VISIBLE_DELAY);
  }

  function poll() {
    asking = true;
    var headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    // no-store: the browser's own cache stays out of it, so a 304 reaches this script as is.
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("progress poll: HTTP " + response.status);
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (data) {
        asking = false;
        if (data === null) {
          schedule(VISIBLE_DELAY);
          return;
        }
        show(data);
      })
      .catch(function () {
        asking = false;
        schedule(5000);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!finished && !asking && !document.hidden) schedule(0);
  });
  if (!finished) schedule(1000);
})();
