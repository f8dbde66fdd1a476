"""Pharmacogenomics family: CPIC genotype → phenotype → dosing guidance (part 1 of the
family; the GNN and the ranking come next)."""
