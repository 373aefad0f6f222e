def helper(x):
    return leaf_value(x)
