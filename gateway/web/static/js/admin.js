// Admin dashboard: per-queue throughput charts (uPlot) drawn from each chart's data attribute,
// redrawn after each htmx refresh of the live counts.
(function () {
  "use strict";
  var timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  function draw() {
    if (!window.uPlot) return;
    // Each chart carries its own series: htmx drops <script> blocks from refreshed content.
    document.querySelectorAll("[data-queue-chart]").forEach(function (el) {
      var q = JSON.parse(el.getAttribute("data-queue-chart"));
      el.textContent = "";
      var width = Math.max(200, el.clientWidth || 300);
      new window.uPlot({
        width: width,
        height: 110,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(5, max)]; } } },
        axes: [
          { values: function (u, ticks) { return ticks.map(function (t) { return timeFmt.format(new Date(t * 1000)); }); }, size: 28, font: "11px system-ui" },
          { size: 36, font: "11px system-ui" },
        ],
        series: [
          { value: function (u, t) { return t == null ? "—" : timeFmt.format(new Date(t * 1000)); } },
          { label: "done/min", stroke: "#4f46e5", fill: "rgba(79,70,229,.12)", width: 2, points: { show: false } },
          { label: "failed/min", stroke: "#dc2626", width: 2, points: { show: false } },
        ],
      }, [q.t, q.completed, q.failed], el);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(draw, 200);
  });
})();
