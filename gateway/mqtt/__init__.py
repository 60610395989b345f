"""MQTT plumbing of the gateway (paho-mqtt 2, MQTT v5, QoS 1)."""
