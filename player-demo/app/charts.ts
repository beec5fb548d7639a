/** A rolling line chart on a canvas: the last `capacity` samples, auto-scaled to the max seen. */
export class RollingChart {
  private values: number[] = [];
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly color: string,
    private readonly capacity = 120,
  ) {}

  push(v: number | null): void {
    this.values.push(v ?? Number.NaN);
    if (this.values.length > this.capacity) this.values.shift();
    this.draw();
  }

  private draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const { width: w, height: h } = this.canvas;
    ctx.clearRect(0, 0, w, h);
    const finite = this.values.filter(Number.isFinite);
    const max = Math.max(1e-9, ...finite) * 1.15;
    ctx.fillStyle = '#56657a';
    ctx.font = '10px sans-serif';
    ctx.fillText(max.toFixed(max < 10 ? 2 : 0), 4, 10);
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    this.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return void (pen = false);
      const x = (i / (this.capacity - 1)) * w;
      const y = h - (v / max) * (h - 4) - 2;
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
  }
}
