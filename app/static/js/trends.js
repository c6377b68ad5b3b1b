/* A group's trends: one line chart per subscale (mean with a 95% CI band) and attendance per meeting.
 *
 * The figures come as JSON in the data-chart attribute of #trends, every word from data-labels (rendered by
 * the server in the reader's language). Hidden rounds are null points, so the line shows a gap there and
 * the hover says why. The tables on the page hold the same numbers for readers who cannot use the chart.
 */
(function () {
  "use strict";

  const root = document.getElementById("trends");
  if (!root || typeof window.Plotly === "undefined") {
    return;
  }
  const data = JSON.parse(root.dataset.chart);
  const L = JSON.parse(root.dataset.labels);
  const rounds = data.rounds;
  const x = rounds.map((r) => r.number);
  const fixed = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(2));
  const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v * 100) + "%");
  // No "Share chart" button: plotly.js would upload the figures to Plotly Cloud, and they stay in the hospital.
  const config = { responsive: true, displaylogo: false, showSendToCloud: false };

  // A dotted vertical line before each round whose instrument version differs from the round before.
  const versionMarks = rounds
    .filter((r) => r.version_changed)
    .map((r) => ({
      type: "line", xref: "x", yref: "paper", x0: r.number - 0.5, x1: r.number - 0.5, y0: 0, y1: 1,
      line: { dash: "dot", width: 1, color: "#b58100" },
    }));
  const versionNotes = rounds
    .filter((r) => r.version_changed)
    .map((r) => ({
      xref: "x", yref: "paper", x: r.number - 0.5, y: 1, yanchor: "bottom", showarrow: false,
      text: L.version_change + " (" + r.instrument + " v" + r.version + ")", font: { size: 10 },
    }));

  function roundHover(r, p) {
    const head = L.round + " " + r.number + " (" + r.opens_at + ")";
    if (!p) {
      return head + "<br>" + L.hidden;
    }
    return head + "<br>" + L.mean + ": " + fixed(p.mean) +
      "<br>" + L.ci + ": " + fixed(p.ci_low) + " – " + fixed(p.ci_high) +
      "<br>" + L.n + ": " + p.n + "<br>" + L.participation + ": " + pct(r.participation);
  }

  function drawSeries(el) {
    const series = data.series[Number(el.dataset.series)];
    const pts = series.points;
    const val = (key) => pts.map((p) => (p ? p[key] : null));
    const traces = [
      { x: x, y: val("ci_low"), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
      {
        x: x, y: val("ci_high"), mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(13, 110, 253, 0.15)", hoverinfo: "skip", name: L.ci_band,
      },
      {
        x: x, y: val("mean"), mode: "lines+markers", name: L.mean, connectgaps: false,
        line: { color: "#0d6efd" }, hoverinfo: "text", text: rounds.map((r, i) => roundHover(r, pts[i])),
      },
    ];
    // Hidden rounds: a mark on the axis whose hover gives the reason, so the gap explains itself.
    const hidden = rounds.filter((r, i) => !pts[i]).map((r) => ({
      xref: "x", yref: "paper", x: r.number, y: 0, yanchor: "bottom", showarrow: false,
      text: "∅", hovertext: L.hidden, font: { color: "#6c757d" },
    }));
    Plotly.newPlot(el, traces, {
      margin: { t: 30, r: 10, b: 40, l: 50 }, height: 320, hovermode: "closest",
      xaxis: { title: { text: L.round }, tickmode: "array", tickvals: x, range: [Math.min(...x) - 0.5, Math.max(...x) + 0.5] },
      yaxis: { title: { text: L.mean } },
      shapes: versionMarks, annotations: versionNotes.concat(hidden), showlegend: false,
    }, config);
  }

  function drawAttendance(el) {
    const ms = data.meetings;
    if (!ms.length) {
      return;
    }
    const idx = ms.map((m, i) => i + 1);
    Plotly.newPlot(el, [
      {
        type: "bar", x: idx, y: ms.map((m) => m.present), name: L.present, marker: { color: "#198754" },
        hoverinfo: "text",
        text: ms.map((m) => m.date + (m.round ? " · " + L.round + " " + m.round : "") + "<br>" + L.present + ": " +
          m.present + " / " + L.expected + ": " + m.expected + "<br>" + L.rate + ": " + pct(m.rate)),
        textposition: "none",
      },
      {
        type: "scatter", mode: "lines", x: idx, y: ms.map((m) => m.expected), name: L.expected,
        line: { color: "#6c757d", dash: "dash" }, hoverinfo: "skip",
      },
    ], {
      margin: { t: 30, r: 10, b: 40, l: 50 }, height: 280, title: { text: L.attendance_title, font: { size: 14 } },
      xaxis: { title: { text: L.meeting } }, yaxis: { rangemode: "tozero" }, legend: { orientation: "h" },
    }, config);
  }

  document.querySelectorAll(".trend-chart[data-series]").forEach(drawSeries);
  const attendance = document.getElementById("trend-attendance-chart");
  if (attendance) {
    drawAttendance(attendance);
  }
})();
