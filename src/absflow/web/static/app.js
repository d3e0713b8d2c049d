// absflow pages: charts from data-chart attributes (ECharts served by this app) and job progress polling.
(function () {
  "use strict";

  function renderChart(el) {
    if (typeof echarts === "undefined") { return; }
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var option;
    if (spec.kind === "pie") {
      option = {
        title: { text: spec.title, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: "60%", data: spec.categories.map(function (c, i) {
          return { name: c, value: spec.series[0].data[i] };
        }) }]
      };
    } else {
      option = {
        title: { text: spec.title, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" },
        legend: { top: 34 },
        grid: { left: 60, right: 20, top: 72, bottom: 60 },
        xAxis: { type: "category", data: spec.categories, axisLabel: { rotate: spec.categories.length > 8 ? 30 : 0 } },
        yAxis: { type: "value" },
        series: spec.series.map(function (s) {
          return { name: s.name, type: s.type || spec.kind || "bar", stack: s.stack, data: s.data };
        })
      };
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.setAttribute("data-rendered", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function pollJob(el) {
    var url = el.getAttribute("data-job-url");
    var bar = el.querySelector(".progress > span");
    var msg = el.querySelector(".job-message");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.style.width = job.progress + "%"; }
          if (msg) { msg.textContent = job.status + " · " + job.message; }
          if (job.status === "done" || job.status === "failed") {
            var next = el.getAttribute("data-done-url");
            if (next) { window.location.assign(next); }
          } else {
            window.setTimeout(tick, 700);
          }
        })
        .catch(function () { window.setTimeout(tick, 2000); });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), renderChart);
    Array.prototype.forEach.call(document.querySelectorAll("[data-job-url]"), pollJob);
  });
})();
