// charts.js draws the charts of a dynowatch page with uPlot. The page puts
// {"charts": [...], "markers": [...]} as JSON into #chart-data; each chart
// goes into the element with data-chart="<id>".
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el || typeof uPlot === "undefined") return;
  var page = JSON.parse(el.textContent);
  var colors = ["#1a7f37", "#0969da", "#bf8700", "#cf222e", "#8250df", "#1b7c83", "#bc4c00", "#57606a", "#e85aad", "#4d2d00"];
  var classColors = { "2xx": "#1a7f37", "3xx": "#0969da", "4xx": "#bf8700", "5xx": "#cf222e", ok: "#1a7f37", failed: "#cf222e", quota: "#cf222e" };
  var markers = page.markers || [];
  var charts = page.charts || [];
  var plots = [];

  function fmt(v) {
    if (v == null) return "–";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }

  // markerPlugin draws releases (blue, dashed) and crashes (red) as
  // vertical lines across the plot.
  function markerPlugin() {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
          ctx.save();
          ctx.lineWidth = 2 * uPlot.pxRatio;
          markers.forEach(function (m) {
            var x = Math.round(u.valToPos(m.t, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = m.kind === "crash" ? "#cf222e" : "#0969da";
            ctx.setLineDash(m.kind === "crash" ? [] : [6 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + h);
            ctx.stroke();
          });
          ctx.restore();
        },
      },
    };
  }

  // stack turns counts into running sums, top series first, so that each
  // filled area sits on the ones below it; raw keeps the counts for the legend.
  function stack(data) {
    var out = [data[0]], acc = data[0].map(function () { return 0; });
    var sums = [];
    for (var i = 1; i < data.length; i++) {
      acc = acc.map(function (a, j) { return a + (data[i][j] || 0); });
      sums.push(acc);
    }
    return out.concat(sums.reverse());
  }

  function width(node) {
    return Math.max(200, node.clientWidth);
  }

  charts.forEach(function (c) {
    var node = document.querySelector('[data-chart="' + c.id + '"]');
    if (!node) return;
    var n = c.labels.length;
    var order = c.stacked ? c.labels.map(function (_, i) { return n - 1 - i; }) : c.labels.map(function (_, i) { return i; });
    var series = [{}];
    order.forEach(function (i) {
      var color = classColors[c.labels[i]] || colors[i % colors.length];
      var s = { label: c.labels[i], stroke: color, width: 1.5 };
      // A sparse series, such as a few minutes in a 30-day range, has
      // points with no neighbour to draw a line to: draw the points.
      var values = c.data[i + 1].filter(function (v) { return v != null; }).length;
      if (values < 60) s.points = { show: true, size: 5, fill: color };
      if (c.dashed[i]) { s.dash = [6, 4]; s.stroke = "#cf222e"; }
      if (c.stacked) {
        s.fill = color + "99";
        s.value = function (u, v, si, idx) { return idx == null ? "–" : fmt(c.data[i + 1][idx]); };
      } else {
        s.value = function (u, v) { return fmt(v); };
      }
      series.push(s);
    });
    var opts = {
      width: width(node),
      height: 200,
      series: series,
      // The memory chart may go past now, to where a forecast reaches the quota.
      scales: { x: page.to ? { time: true, range: function () { return [page.from, c.to || page.to]; } } : { time: true } },
      axes: [{}, { size: 60, values: function (u, vals) { return vals.map(fmt); } }],
      legend: { live: true },
      plugins: [markerPlugin()],
    };
    var data = c.stacked ? stack(c.data) : c.data;
    var u = new uPlot(opts, data, node);
    u._dynowatch = { id: c.id, data: c.data };
    plots.push(u);
  });

  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      plots.forEach(function (u) { u.setSize({ width: width(u.root.parentNode), height: 200 }); });
    }, 100);
  });
  window.dynowatchPlots = plots;
})();
