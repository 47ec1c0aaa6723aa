"""The in-process topic broker: catalogue, publish/subscribe and the handlers registered on it."""

from app.broker.broker import Broker, NoHandlerError
from app.broker.topics import Topic, UnknownTopicError, canonical

__all__ = ["Broker", "NoHandlerError", "Topic", "UnknownTopicError", "canonical"]
