// Panel: histogram of the training scores and, when the model has labelled evaluation data, of
// its normal and anomalous rows, with the threshold as a line.
import { cached, guarded, pageData, num, sig3 } from "../api.js";
import { histogramChart } from "../charts.js";

const { model, version } = pageData();

/** The histogram query of a model: its evaluation dataset and label column, when it has them. */
export function evaluationQuery(m) {
  const q = new URLSearchParams({ bins: "40" });
  if (m.eval_dataset) {
    q.set("dataset", m.eval_dataset);
    if (m.label_column) q.set("label_column", m.label_column);
    if (m.normal_value !== null && m.normal_value !== undefined) q.set("normal_value", String(m.normal_value));
  }
  return q;
}

guarded(async () => {
  const m = await cached(`/models/${encodeURIComponent(model)}`);
  const hist = await cached(`/models/${encodeURIComponent(model)}/versions/${version}/histogram?${evaluationQuery(m)}`);
  await histogramChart(document.getElementById("score-chart"), hist, hist.threshold);
  document.getElementById("scores-note").textContent =
    `Share of rows per score bin: ${num(hist.training.rows)} training rows` +
    (hist.normal ? `, and the evaluation data${hist.label_column ? ` by its column ${hist.label_column}` : ""}` : "") +
    `. The dashed line is the threshold in force (${sig3(hist.threshold)}); rows above it are anomalies.`;
});
