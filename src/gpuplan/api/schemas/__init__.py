"""Response models of the HTTP routes: the JSON contract the OpenAPI document states.

One module per router; each model describes exactly what its route answers today
(the seeds' field names), so a change to an answer is a change to a model.
"""
