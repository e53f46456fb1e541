// Interactive history charts (uPlot): hover shows the date and value, alert markers on the
// timeline. Data comes from the page's <script type="application/json" id="chart-data">.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.uPlot) return;
  var payload = JSON.parse(source.textContent);
  var currency = payload.currency || "";
  var palette = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"];
  var severityColour = { critical: "#dc2626", warning: "#f59e0b", info: "#3b82f6" };
  var dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var moneyFmt = currency
    ? new Intl.NumberFormat(undefined, { style: "currency", currency: currency })
    : new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  var intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  var ratingFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  var specs = {
    price: { series: [["price", "Price"], ["buybox_price", "Buy Box"]], fmt: moneyFmt },
    bsr: { fromMetric: "bsr", fmt: intFmt, invert: true },
    rating: { series: [["rating", "Rating"]], fmt: ratingFmt, yRange: [0, 5] },
    review_count: { series: [["review_count", "Reviews"]], fmt: intFmt },
  };

  // Align several [t, v] series on one sorted time axis (uPlot's data shape).
  function align(lines) {
    var times = {};
    lines.forEach(function (line) { line.points.forEach(function (p) { times[p[0]] = true; }); });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (t, i) { index[t] = i; });
    var data = [xs];
    lines.forEach(function (line) {
      var ys = new Array(xs.length).fill(null);
      line.points.forEach(function (p) { ys[index[p[0]]] = p[1]; });
      data.push(ys);
    });
    return data;
  }

  function linesFor(name) {
    var spec = specs[name];
    if (spec.fromMetric) {
      var byCategory = payload.charts[spec.fromMetric] || {};
      return Object.keys(byCategory).slice(0, 5).map(function (category) {
        return { label: "#" + category, points: byCategory[category] };
      });
    }
    return spec.series
      .map(function (pair) {
        var series = payload.charts[pair[0]] || {};
        return { label: pair[1], points: series[pair[0]] || [] };
      })
      .filter(function (line) { return line.points.length; });
  }

  // Vertical lines at each alert's snapshot time, coloured by severity.
  function markerPlugin() {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx;
          var top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          (payload.markers || []).forEach(function (m) {
            var x = u.valToPos(m.t, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = severityColour[m.severity] || "#9ca3af";
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          });
          ctx.restore();
        },
      },
    };
  }

  function tooltipPlugin(fmt, labels) {
    var tip;
    return {
      hooks: {
        init: function (u) {
          tip = document.createElement("div");
          tip.className = "chart-tip";
          tip.setAttribute("role", "status");
          tip.hidden = true;
          u.over.appendChild(tip);
          u.over.addEventListener("mouseleave", function () { tip.hidden = true; });
        },
        setCursor: function (u) {
          var i = u.cursor.idx;
          if (i == null) { tip.hidden = true; return; }
          var parts = [];
          for (var s = 1; s < u.data.length; s++) {
            var v = u.data[s][i];
            if (v != null) parts.push((labels.length > 1 ? labels[s - 1] + ": " : "") + fmt.format(v));
          }
          var nearby = (payload.markers || []).filter(function (m) {
            return Math.abs(m.t - u.data[0][i]) < 1;
          });
          if (!parts.length) { tip.hidden = true; return; }
          tip.textContent = dateFmt.format(new Date(u.data[0][i] * 1000)) + " · " + parts.join(" · ") +
            (nearby.length ? " · ⚑ " + nearby[0].text : "");
          tip.hidden = false;
          tip.style.left = u.cursor.left + "px";
          tip.style.top = u.cursor.top + "px";
        },
      },
    };
  }

  function build(el) {
    var name = el.getAttribute("data-chart");
    var spec = specs[name];
    var lines = linesFor(name);
    if (!spec || !lines.length) return;
    var labels = lines.map(function (l) { return l.label; });
    var series = [{ value: function (u, v) { return v == null ? "—" : dateFmt.format(new Date(v * 1000)); } }];
    lines.forEach(function (line, i) {
      series.push({
        label: line.label,
        stroke: palette[i % palette.length],
        width: 2,
        spanGaps: true,
        points: { show: line.points.length < 60, size: 5 },
        value: function (u, v) { return v == null ? "—" : spec.fmt.format(v); },
      });
    });
    var data = align(lines);
    var xs = data[0];
    // Zoom to the data held (a new product has minutes of history, not a year); one point
    // gets a day either side.
    var lo = xs[0], hi = xs[xs.length - 1];
    var pad = hi > lo ? (hi - lo) * 0.04 : 86400;
    var opts = {
      width: Math.max(260, el.clientWidth),
      height: 220,
      series: series,
      scales: {
        x: { time: true, range: function () { return [lo - pad, hi + pad]; } },
        y: spec.yRange
          ? { dir: 1, range: function () { return spec.yRange; } }
          : { dir: spec.invert ? -1 : 1 },
      },
      axes: [
        { stroke: "#6b7280", grid: { stroke: "#f1f5f9" } },
        { stroke: "#6b7280", grid: { stroke: "#f1f5f9" }, size: 64,
          values: function (u, ticks) { return ticks.map(function (t) { return spec.fmt.format(t); }); } },
      ],
      cursor: { points: { size: 8 } },
      legend: { show: lines.length > 1, live: false },
      plugins: [markerPlugin(), tooltipPlugin(spec.fmt, labels)],
    };
    var chart = new window.uPlot(opts, data, el);
    new ResizeObserver(function () {
      chart.setSize({ width: Math.max(260, el.clientWidth), height: 220 });
    }).observe(el);
  }

  document.querySelectorAll("[data-chart]").forEach(build);
})();
