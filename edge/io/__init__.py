"""The gate's hardware behind small protocols: cameras, vehicle triggers, barrier and display."""
