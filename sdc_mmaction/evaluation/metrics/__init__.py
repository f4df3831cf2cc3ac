from .retrieval_metric import VideoRetrievalMetric, retrieval_recall

__all__ = ['VideoRetrievalMetric', 'retrieval_recall']
