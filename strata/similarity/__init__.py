"""Layer similarity: CKA and friends, for every pair of layers, within and across models."""

from strata.similarity.matrix import read_similarity, read_similarity_table, similarity_matrix
from strata.similarity.measures import MEASURES, get_measure

__all__ = [
    "MEASURES",
    "get_measure",
    "read_similarity",
    "read_similarity_table",
    "similarity_matrix",
]
