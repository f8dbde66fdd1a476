"""The pharmacogenomics pipeline's components."""
