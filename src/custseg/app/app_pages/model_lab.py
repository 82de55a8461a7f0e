"""Model Lab: quality metrics, curves to choose settings, save and load models."""

import json

import streamlit as st

from custseg import charts, summaries
from custseg.algorithms import get_algorithm
from custseg.app import cached, state
from custseg.app.ui import chart, number, plain, show_error
from custseg.errors import CustsegError
from custseg.io.model_files import model_bytes, model_from_bytes

view = state.require_view()
model = view.model
spec = get_algorithm(model.config.algorithm)
metrics = model.metrics
fidelity = model.segmenter.fidelity_

st.title("Model Lab")
st.caption(plain(summaries.describe_model(model)))

c = st.columns(5)
c[0].metric("Silhouette", number(metrics.get("silhouette"), 3),
            help="−1 to 1, higher is better: how much closer customers are to their own "
            "segment than to the next one.")
c[1].metric("Davies–Bouldin", number(metrics.get("davies_bouldin"), 3),
            help="0 and up, lower is better: how much segments overlap.")
c[2].metric("Calinski–Harabasz", number(metrics.get("calinski_harabasz"), 1),
            help="Higher is better: spread between segments against spread within.")
agreement = fidelity.get("cv_agreement")
c[3].metric("Assigner agreement", "–" if agreement is None else f"{agreement:.1%}",
            help="Cross-validated agreement of the nearest-neighbour assigner with the "
            "clusterer's own labels.")
native = fidelity.get("native_agreement")
c[4].metric("Agreement with native predict", "–" if native is None else f"{native:.1%}",
            help="For algorithms that can predict by themselves (K-Means, mixture, BIRCH): "
            "agreement of the assigner with that prediction on held-out customers.")
n_fit = model.segmenter.n_fit_rows_
st.caption(
    f"Metrics on {metrics.get('metric_rows', 0):,} customers (a sample when large). "
    f"Clusterer fitted on {n_fit:,} of {model.quality.n_used:,} customers"
    + (" — a sample; the assigner placed the rest." if n_fit < model.quality.n_used else ".")
    + f" Assigner reference set: {len(model.segmenter.reference_X_):,} customers."
)

tabs = st.tabs(["Number of segments", "DBSCAN eps", "Dendrogram", "Save / load"])
X = model.encoding.transform(view.values)

with tabs[0]:
    if spec.name in {"kmeans", "gmm", "agglomerative"}:
        others = {k: v for k, v in model.config.params.items() if k != spec.k_param}
        curve = cached.curve(view.table_key, view.model_key, spec.name, json.dumps(others), X)
        chart(charts.k_curve_figure(curve, model.config.params[spec.k_param]), key="k_curve")
        st.caption("Look for the elbow of the inertia (or the lowest BIC) and a high silhouette.")
    else:
        st.info(plain(f"Curves over the number of segments are for K-Means, Gaussian mixture "
                      f"and agglomerative clustering; {spec.label} chooses it differently."))

with tabs[1]:
    if spec.name in {"dbscan", "hdbscan"}:
        k = int(model.config.params.get("min_samples") or model.config.params.get("min_cluster_size", 5))
        dist = cached.distances(view.table_key, view.model_key, k, X)
        eps = model.config.params.get("eps")
        chart(charts.k_distance_figure(dist, k, eps), key="k_distance")
        st.caption("Customers left of the knee sit in dense areas; eps at the knee separates "
                   "them from the sparse tail, which becomes outliers.")
    else:
        st.info("The k-distance curve helps choose eps for DBSCAN (and HDBSCAN's density).")

with tabs[2]:
    if spec.name == "agglomerative":
        rows = cached.sample_rows(len(X), 2_000, seed=model.config.random_state)
        chart(charts.dendrogram_figure(X[rows], model.config.params["linkage"],
                                       model.config.params["n_clusters"]), key="dendrogram")
    else:
        st.info("The dendrogram shows how hierarchical (agglomerative) clustering merges "
                "customers; choose that algorithm in the sidebar to see it.")

with tabs[3]:
    st.subheader("Save the current model", divider="gray")
    st.caption("A .custseg file holds plain data (JSON and numeric arrays with a checksum), "
               "never code. Load it here, or use it with the command line.")
    st.download_button("Download model file", model_bytes(model), file_name="segments.custseg",
                       mime="application/octet-stream", icon=":material/download:",
                       key="model_download")
    st.subheader("Load a saved model", divider="gray")
    upload = st.file_uploader("Model file (.custseg)", type=["custseg"], key="model_upload")
    if upload is not None:
        data = upload.getvalue()
        model_digest = cached.digest(data)
        current = st.session_state.get(state.LOADED)
        if current is None or current[2] != model_digest:
            try:
                loaded = model_from_bytes(data, name=upload.name)
                view.table.match.require(loaded.encoding.needs)
            except CustsegError as exc:
                show_error(exc)
            else:
                st.session_state[state.LOADED] = (upload.name, loaded, model_digest)
                st.session_state.pop(state.BATCH, None)
                st.rerun()
        else:
            st.success(plain(f"Using {upload.name}: the sidebar shows it instead of a new fit."))
