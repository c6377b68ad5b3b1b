/* Programme trends: a heat map of groups x rounds (or quarters) for one subscale at a time.
 *
 * The numbers come from the page (data-chart, JSON rendered by the server); every word from data-label-*
 * and data-reasons attributes, in the reader's language. Cells hidden to protect anonymity stay empty and
 * say why on hover. The tables beneath give the same numbers; the switcher shows the chosen subscale's table.
 * Without plotly (not loaded), only the switcher and tables work.
 */
(function () {
  "use strict";

  const chart = document.getElementById("programme-heatmap");
  const switcher = document.getElementById("subscale-switch");
  if (!chart || !switcher) {
    return;
  }
  const data = JSON.parse(chart.dataset.chart);
  const reasons = JSON.parse(chart.dataset.reasons || "{}");
  const labels = {
    group: chart.dataset.labelGroup,
    column: chart.dataset.labelColumn,
    mean: chart.dataset.labelMean,
    n: chart.dataset.labelN,
    empty: chart.dataset.labelEmpty,
  };

  function hoverText(sub) {
    return sub.y.map(function (group, row) {
      return sub.x.map(function (column, col) {
        const head = labels.group + ": " + group + "<br>" + labels.column + ": " + column + "<br>";
        const reason = sub.reason[row][col];
        if (reason) {
          return head + (reasons[reason] || reason);
        }
        const value = sub.z[row][col];
        if (value === null || value === undefined) {
          return head + labels.empty;
        }
        return head + labels.mean + ": " + value.toFixed(2) + "<br>" + labels.n + " = " + sub.n[row][col];
      });
    });
  }

  function draw(key) {
    const sub = data.subscales.find(function (s) { return s.key === key; }) || data.subscales[0];
    if (!sub) {
      return;
    }
    document.querySelectorAll(".trend-table").forEach(function (section) {
      section.hidden = section.dataset.subscale !== sub.key;
    });
    if (!window.Plotly) {
      return;
    }
    const trace = {
      type: "heatmap",
      x: sub.x,
      y: sub.y,
      z: sub.z,
      text: hoverText(sub),
      hoverinfo: "text",
      hoverongaps: true,
      colorscale: "Viridis",
      colorbar: { title: { text: labels.mean } },
    };
    if (sub.min !== null && sub.max !== null) {
      trace.zmin = sub.min;
      trace.zmax = sub.max;
    }
    const layout = {
      title: { text: sub.title },
      xaxis: { title: { text: labels.column }, type: "category" },
      yaxis: { title: { text: labels.group }, type: "category", automargin: true, autorange: "reversed" },
      margin: { t: 40 },
      height: Math.max(260, 40 * sub.y.length + 120),
    };
    // showSendToCloud: no "Share chart" button, which would upload the figures to Plotly Cloud.
    window.Plotly.react(chart, [trace], layout, { responsive: true, displaylogo: false, showSendToCloud: false });
  }

  switcher.addEventListener("change", function () {
    draw(switcher.value);
  });
  draw(switcher.value);
})();
