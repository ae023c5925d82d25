"""Layer similarity: CKA and friends, per pair of layers, within and across models."""

from strata.similarity.cka import linear_cka, linear_cka_debiased
from strata.similarity.matrix import read_similarity, similarity_matrix
from strata.similarity.measures import MEASURES

__all__ = ["MEASURES", "linear_cka", "linear_cka_debiased", "read_similarity", "similarity_matrix"]
