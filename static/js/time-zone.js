// Tells the site the browser's time zone, so dates read in local time (accounts.locale).
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  // Zone names ("Asia/Shanghai") hold only characters a cookie may carry as they are.
  if (!zone || !/^[A-Za-z0-9_+\/-]+$/.test(zone)) return;
  var cookie = "likeness_time_zone=" + zone;
  if (document.cookie.split("; ").indexOf(cookie) === -1) {
    document.cookie = cookie + "; path=/; max-age=31536000; samesite=lax";
  }
})();
