"""Layer similarity: CKA and friends, for every pair of layers, within and across models."""

from strata.similarity.cka import linear_cka, linear_cka_debiased
from strata.similarity.matrix import read_similarity, read_similarity_table, similarity_matrix
from strata.similarity.measures import MEASURES, get_measure

__all__ = [
    "MEASURES",
    "get_measure",
    "linear_cka",
    "linear_cka_debiased",
    "read_similarity",
    "read_similarity_table",
    "similarity_matrix",
]
