// Live learning curves with uPlot (loaded as a global by index.html): the training loss per
// batch (smoothed) and the test accuracy per epoch.

function makeChart(element, title, seriesLabel, xLabel, yLabel, stroke) {
  const width = Math.max(280, element.clientWidth || 420);
  return new uPlot({
    title, width, height: 220,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, { label: yLabel }],
    series: [{ label: xLabel }, { label: seriesLabel, stroke, width: 2, points: { show: false } }],
  }, [[], []], element);
}

export class LearningCurves {
  constructor(lossElement, accuracyElement) {
    this.loss = makeChart(lossElement, 'Training loss', 'loss (smoothed)', 'epoch', 'loss', '#c0392b');
    this.accuracy = makeChart(accuracyElement, 'Test accuracy', 'accuracy %', 'epoch', '%', '#2471a3');
    this.accuracy.series[1].points = { show: true, size: 7 };
    this.reset();
  }

  reset() {
    this.lossX = []; this.lossY = []; this.smoothed = null;
    this.accX = []; this.accY = [];
    this.loss.setData([[], []]);
    this.accuracy.setData([[], []]);
  }

  /** `position` in epochs (fractional). Exponential smoothing keeps the curve readable. */
  addLoss(position, loss) {
    this.smoothed = this.smoothed === null ? loss : 0.9 * this.smoothed + 0.1 * loss;
    this.lossX.push(position);
    this.lossY.push(this.smoothed);
    this.loss.setData([this.lossX, this.lossY]);
  }

  addAccuracy(epoch, accuracy) {
    this.accX.push(epoch);
    this.accY.push(100 * accuracy);
    this.accuracy.setData([this.accX, this.accY]);
  }

  /** Shows a loaded results file's per-epoch curves. */
  showResults(results) {
    this.reset();
    for (const e of results.epochs) {
      this.lossX.push(e.epoch); this.lossY.push(e.train_loss);
      this.addAccuracy(e.epoch, e.test_accuracy);
    }
    this.loss.setData([this.lossX, this.lossY]);
  }
}
