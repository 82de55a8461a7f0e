"""Model Lab: quality metrics, curves to choose settings, save and load models."""

import streamlit as st

from custseg.app import cached, links, state
from custseg.app.ui import chart, number, plain, read_upload, show_error
from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.evaluate import sample_rows
from custseg.errors import CustsegError
from custseg.io import uploads
from custseg.io.model_files import model_bytes
from custseg.model import summaries
from custseg.model.identity import match_segments, migration
from custseg.model.report import build_report
from custseg.segments import charts

view = state.require_view()
model = view.model
spec = get_algorithm(model.config.algorithm)
metrics = model.metrics.quality
fidelity = model.segmenter.fidelity_

st.title("Model Lab")
st.caption(plain(summaries.describe_model(model)))

# Two rows (the quality metrics, then the assigner's): five in one row cut the figures
# and their labels ("1,47…") at 1024 px.
c = [*st.columns(3), *st.columns(3)[:2]]
c[0].metric("Silhouette", number(metrics.silhouette, 3),
            help="−1 to 1, higher is better: how much closer customers are to their own "
            "segment than to the next one.")
c[1].metric("Davies–Bouldin", number(metrics.davies_bouldin, 3),
            help="0 and up, lower is better: how much segments overlap.")
c[2].metric("Calinski–Harabasz", number(metrics.calinski_harabasz, 1),
            help="Higher is better: spread between segments against spread within.")
agreement = fidelity.cv_agreement
c[3].metric("Assigner agreement", "–" if agreement is None else f"{agreement:.1%}",
            help="Cross-validated agreement of the nearest-neighbour assigner with the "
            "clusterer's own labels.")
native = fidelity.native_agreement
c[4].metric("Native agreement", "–" if native is None else f"{native:.1%}",
            help="For algorithms that can predict by themselves (K-Means, mixture, BIRCH): "
            "agreement of the assigner with that native prediction on held-out customers.")
n_fit = model.segmenter.n_fit_rows_
st.caption(
    f"Metrics on {metrics.metric_rows:,} customers (a sample when large). "
    f"Clusterer fitted on {n_fit:,} of {model.quality.n_used:,} customers"
    + (" — a sample; the assigner placed the rest." if n_fit < model.quality.n_used else ".")
    + f" Assigner reference set: {len(model.segmenter.reference_X_):,} customers."
)

# Tracked on the server (a key, a rerun on a switch): a rerun that redraws the page, such as
# the one after an upload in Save / load, keeps the analyst on the tab they were on. The
# labels are short enough for the tab bar to show them all at 1024 px.
tabs = st.tabs(["Segment count", "DBSCAN eps", "Dendrogram", "Rules", "Stability",
                "Compare", "Save / load"], key="model_lab_tab", on_change="rerun")
X = model.encoding.transform(view.values)

with tabs[0]:
    if "k_curve" in spec.diagnostics:
        others = {k: v for k, v in model.config.params.items() if k != spec.k_param}
        curve = cached.curve(cached.matrix(view), spec.name, others)
        chart(charts.k_curve_figure(curve, model.config.params[spec.k_param]), key="k_curve")
        st.caption("Look for the elbow of the inertia (or the lowest BIC) and a high silhouette.")
    else:
        st.info(plain(f"Curves over the number of segments are for "
                      f"{summaries.algorithms_with('k_curve')}; {spec.label} chooses it "
                      "differently."))

with tabs[1]:
    if "k_distance" in spec.diagnostics:
        k = spec.neighbours(model.config.params)
        dist = cached.distances(cached.matrix(view), k)
        eps = model.config.params.get("eps")
        chart(charts.k_distance_figure(dist, k, eps), key="k_distance")
        st.caption("Customers left of the knee sit in dense areas; eps at the knee separates "
                   "them from the sparse tail, which becomes outliers.")
    else:
        st.info(plain("The k-distance curve helps choose the density settings of "
                      f"{summaries.algorithms_with('k_distance')}."))

with tabs[2]:
    if "dendrogram" in spec.diagnostics:
        rows = sample_rows(len(X), 2_000, seed=model.config.random_state)
        chart(charts.dendrogram_figure(X[rows], model.config.params["linkage"],
                                       model.config.params[spec.k_param]), key="dendrogram")
    else:
        st.info(plain("The dendrogram shows how customers merge, bottom-up, into segments; "
                      f"choose {summaries.algorithms_with('dendrogram')} in the sidebar to "
                      "see it."))

with tabs[3]:
    st.caption("Readable rules from a shallow decision tree per segment. Precision: the share "
               "of customers a rule selects that are in the segment. Coverage: the share of the "
               "segment it selects.")
    # the figures before the long rule: at 1024 px the rule runs past the table's edge
    # (a click on it shows it whole), its precision and coverage stay in sight
    st.dataframe(summaries.rules_table(model), hide_index=True,
                 column_order=["segment", "precision", "coverage", "rule"],
                 column_config={
                     "segment": st.column_config.TextColumn(width=200),
                     "precision": st.column_config.ProgressColumn(format="percent", width=90),
                     "coverage": st.column_config.ProgressColumn(format="percent", width=90)})

with tabs[4]:
    measured = model.metrics.stability
    if measured is None:
        measured = cached.model_stability(view)
        # known from now on: the banner above every page names fragile segments
        st.session_state.setdefault(state.MEASURED, {})[view.model_key] = measured
    st.info(plain(measured.reading), icon=":material/balance:")
    st.dataframe(summaries.stability_table(model, measured), hide_index=True,
                 column_config={"Jaccard": st.column_config.ProgressColumn(format="%.2f",
                                                                           min_value=0.0,
                                                                           max_value=1.0)})
    st.caption(f"{measured.resamples} refits on subsamples of {measured.rows:,} customers. "
               "Jaccard: how much each segment overlaps its best match in a refit (from 0.75 "
               "stable, below 0.6 fragile).")

with tabs[5]:
    st.caption("Load an earlier model (last month's, say) to see which of its segments match "
               "the current ones and how the current customers move between them.")
    earlier = st.file_uploader("Earlier model (.custseg)", type=["custseg"], key="compare_upload")
    old = None if earlier is None else read_upload(earlier, uploads.model)
    if old is not None:
        try:
            matching = match_segments(old, model)
            moved = migration(old, model, view.values, matching)
        except CustsegError as exc:
            show_error(exc)
        else:
            st.dataframe(summaries.matching_table(matching, old, model), hide_index=True)
            chart(charts.migration_sankey(moved), key="sankey")
            st.caption("To keep the earlier ids, names and strategies in a new fit: "
                       "custseg fit DATA -o NEW --reference OLD.")

with tabs[6]:
    st.subheader("Save the current model", divider="gray")
    st.caption("A .custseg file holds plain data (JSON and numeric arrays with a checksum), "
               "never code. Load it here, or use it with the command line.")
    c1, c2 = st.columns(2)
    try:
        saved = model_bytes(model)  # refused when custseg could not read it back
    except CustsegError as exc:
        with c1:
            show_error(exc)
    else:
        c1.download_button("Download model file", saved, file_name="segments.custseg",
                           mime="application/octet-stream", icon=":material/download:",
                           key="model_download")
    values, labels = view.values, view.labels
    c2.download_button(
        "Download report (HTML)",
        lambda: build_report(model, values=values, labels=labels, source=view.table.name,
                             stability=measured).encode("utf-8"),  # the Stability tab's
        file_name="segments-report.html", mime="text/html", icon=":material/summarize:",
        key="report_download", help="One self-contained file that opens offline in a browser.",
    )
    st.subheader("Rulebook", divider="gray")
    st.caption("The naming and strategy rules, as TOML: download, edit, upload to rename "
               "every future fit in this session.")
    st.download_button("Download rulebook (TOML)", model.rulebook.to_toml(),
                       file_name="rules.toml", mime="application/toml",
                       icon=":material/download:", key="rules_download")
    rules_upload = st.file_uploader("Use a rulebook (.toml)", type=["toml"], key="rules_upload")
    text = None if rules_upload is None else read_upload(rules_upload, uploads.rulebook)
    if text is not None:
        if st.session_state.get(state.RULES) != text:
            st.session_state[state.RULES] = text
            st.rerun()
        st.success(plain(f"Naming with {rules_upload.name}."))
    st.subheader("Load a saved model", divider="gray")
    upload = st.file_uploader("Model file (.custseg)", type=["custseg"], key="model_upload")
    if upload is None:
        st.session_state.pop(state.MODEL_UPLOADED, None)  # the same file may come back
    else:
        model_digest = cached.digest(upload.getvalue())
        current = st.session_state.get(state.LOADED)
        if st.session_state.get(state.MODEL_UPLOADED) == model_digest and current is None:
            st.caption(plain(f"{upload.name} was set aside for a fit from the controls; "
                             "remove it and upload it again to use it."))
        elif current is None or current.digest != model_digest:
            loaded = read_upload(upload, uploads.model, view.table.match)
            if loaded is not None:
                st.session_state[state.MODEL_UPLOADED] = model_digest
                kept = state.LoadedModel(upload.name, loaded, model_digest)
                st.session_state[state.LOADED] = kept
                links.keep_model(kept)  # a refresh finds it by its digest in the URL
                st.session_state.pop(state.BATCH, None)
                st.rerun()
        else:
            st.success(plain(f"Using {upload.name}: the sidebar shows it instead of a new fit."))
