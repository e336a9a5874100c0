/**
 * A time-series chart drawn by uPlot (small, canvas-based). It follows its box's width,
 * so it fits a narrow window; the numbers are also given as a caption for screen readers.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
  /** Mark every value with a dot: for a series with gaps, where a lone value draws no line. */
  dots?: boolean;
}

export function Chart({
  title,
  times,
  series,
  unit,
}: {
  title: string;
  /** Seconds since the epoch, one per point. */
  times: number[];
  series: ChartSeries[];
  unit: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: 200,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          ...(s.dots ? { points: { show: true, size: 6 } } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(2)} ${unit}`),
        })),
      ],
      axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => `${t} ${unit}`) }],
      scales: { x: { time: true } },
    };
    const data: uPlot.AlignedData = [times, ...series.map((s) => s.values)];
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(200, element.clientWidth), height: 200 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Redrawn when the series' names change; new values only update the data below.
  }, [series.map((s) => s.label).join(), unit]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  const last = times.length - 1;
  return (
    <figure class="chart">
      <figcaption>
        {title}
        <span class="sr-only">
          {last >= 0
            ? series
                .map((s) => ` ${s.label}: ${s.values[last]?.toFixed(2) ?? '—'} ${unit}`)
                .join(',')
            : ' no data yet'}
        </span>
      </figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
