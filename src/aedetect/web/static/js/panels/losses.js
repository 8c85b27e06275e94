// Panel: train and validation loss per epoch.
import { cached, guarded, pageData } from "../api.js";
import { lossChart } from "../charts.js";

const { model, version } = pageData();

guarded(async () => {
  const v = await cached(`/models/${encodeURIComponent(model)}/versions/${version}`);
  const history = v.history || { train_loss: [], val_loss: [] };
  await lossChart(document.getElementById("loss-chart"), history);
  const epochs = history.train_loss.length;
  document.getElementById("loss-note").textContent = history.val_loss.length
    ? `${epochs} epochs; validation on ${Math.round(100 * (v.params.validation_fraction || 0))}% of the rows held out.`
    : `${epochs} epochs, without validation.`;
});
