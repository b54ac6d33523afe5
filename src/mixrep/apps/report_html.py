"""One self-contained HTML page per analysis: text, tables and matplotlib (Agg) plots inlined as base64 PNG,
so it opens from disk without a server or network."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from mixrep.features.columns import BAND_CENTRES_HZ, BAND_NAMES
from mixrep.stems import STEMS

_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
          "img{max-width:100%}.flag{color:#b00}")


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(record: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = record["timeline"]["time_s"]
    cols = record["timeline"]["columns"]
    out = {}
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for target in (*STEMS, "mix"):
        ax.plot(t, cols[f"dynamics.{target}.loudness_lufs"], label=target, lw=2 if target == "mix" else 1)
    ax.set(xlabel="time (s)", ylabel="loudness (LUFS, per 3-s window)", ylim=(-70, 0))
    ax.legend(ncol=5, frameon=False)
    fig.tight_layout()
    out["Loudness over time per stem"] = _png(fig)

    genre = record["nearest_style"]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3), sharey=True)
    for ax, stem in zip(axes, STEMS):
        cs = [f"spectral.{stem}.band{b}_delta_db" for b in BAND_NAMES]
        ax.semilogx(BAND_CENTRES_HZ, [record["features"][c] for c in cs], "o-", label="this mix")
        norm = [record["style_norms"][c] for c in cs]
        ax.semilogx(BAND_CENTRES_HZ, [n["median"] for n in norm], "k--", label=f"{genre} median")
        ax.fill_between(BAND_CENTRES_HZ, [n["q25"] for n in norm], [n["q75"] for n in norm], color="0.85")
        ax.set(title=stem, xlabel="octave band (Hz)", ylim=(-60, 10))
    axes[0].set_ylabel("band energy vs mix (dB)")
    axes[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    out[f"Spectra against the {genre} norm"] = _png(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3))
    for stem in STEMS:
        a1.plot(t, cols[f"stereo.{stem}.msr"], label=stem)
        a2.plot(t, cols[f"masking.{stem}.masking"], label=stem)
    a1.set(xlabel="time (s)", ylabel="stereo width (side/mid)")
    a2.set(xlabel="time (s)", ylabel="masking index", ylim=(0, 1))
    a2.axhline(0.5, color="0.5", ls=":")
    a1.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    out["Stereo width and masking over time"] = _png(fig)
    return out


def render_html(record: dict[str, Any]) -> str:
    e = html.escape
    q = record["quality"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mixrep analyze: {e(record['name'])}</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>{e(record['name'])}</h1>",
             f"<p>{e(record['file'])}: {record['input']['duration_s']:.1f} s, {record['input']['sample_rate']} Hz, "
             f"{e(', '.join(record['input']['notes']) or 'no conversion')}; stems: {e(record['stems'])}; "
             f"model {e(str(record['bundle']['run']))} seed {record['bundle']['seed']}.</p>",
             f"<h2>Predicted quality</h2><p><b>{q['score']:.2f}</b> (90 % interval {q['low']:.2f} to {q['high']:.2f})"
             + (" &mdash; trained on SIMULATED ratings" if q["simulated_ratings"] else "") + "</p>",
             f"<h2>Nearest style: {e(record['nearest_style'])}</h2><ul>"]
    parts += [f"<li class='flag'>{e(s)}</li>" for s in record["summary"]] or ["<li>no deviation beyond the norm</li>"]
    parts.append("</ul><h3>Styles</h3><table><tr><th>genre</th><th>distance</th></tr>")
    parts += [f"<tr><td>{e(s['genre'])}</td><td>{s['distance']:.3f}</td></tr>" for s in record["styles"]]
    parts.append("</table><h3>Nearest reference mixes</h3><table><tr><th>track</th><th>genre</th><th>distance</th></tr>")
    parts += [f"<tr><td>{e(r['track_id'])}</td><td>{e(r['genre'])}</td><td>{r['distance']:.3f}</td></tr>"
              for r in record["nearest_references"]]
    parts.append("</table>")
    for title, uri in _plots(record).items():
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='{uri}'>")
    parts.append("<h2>Deviations from the style norm</h2><table><tr><th>column</th><th>value</th><th>median</th>"
                 "<th>IQR</th><th>unit</th></tr>")
    parts += [f"<tr{' class=flag' if d['flagged'] else ''}><td>{e(d['column'])}</td><td>{d['value']:.2f}</td>"
              f"<td>{d['median']:.2f}</td><td>{d['iqr']:.2f}</td><td>{e(d['unit'])}</td></tr>"
              for d in record["deviations"]]
    parts.append("</table></body></html>")
    return "\n".join(parts)
