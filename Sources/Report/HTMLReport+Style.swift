extension HTMLReport {
    /// The page's CSS: system fonts, cards, quiet axes; the charts keep their size and scroll on narrow screens.
    static let style = """
        :root{color-scheme:light;--ink:#1f2933;--muted:#616e7c;--line:#d9dee4;--bg:#f5f7fa}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
        header{padding:24px 32px 8px}
        h1{font-size:22px;margin:0 0 8px}
        h2{font-size:16px;margin:0 0 12px}
        dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0;color:var(--muted)}
        dt{font-weight:600}
        dd{margin:0}
        main{padding:8px 32px 32px;display:grid;gap:20px;grid-template-columns:repeat(auto-fill,minmax(800px,1fr))}
        .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;overflow-x:auto}
        figure{margin:0}
        figcaption,.note{color:var(--muted);font-size:12px;margin-top:6px;max-width:760px}
        .chart-svg{display:block;font-size:11px;fill:var(--ink)}
        .chart-svg .grid line{stroke:#eef1f4;stroke-width:1}
        .chart-svg .axis line{stroke:#9aa5b1;stroke-width:1}
        .chart-svg .axis text{fill:var(--muted)}
        .chart-svg .axis .title{fill:var(--ink);font-size:12px}
        .chart-svg .series polyline{stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
        .chart-svg .series circle{stroke:none}
        .chart-svg .series circle.few{opacity:.35}
        .chart-svg .legend text{fill:var(--ink);font-size:12px}
        .chart-svg .empty{fill:var(--muted);font-size:14px}
        table{border-collapse:collapse;margin:4px 0 8px}
        th,td{padding:4px 12px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
        thead th{color:var(--muted);font-weight:600;font-size:12px}
        .num{text-align:right;font-variant-numeric:tabular-nums}
        code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
        p.empty{color:var(--muted)}
        """
}
