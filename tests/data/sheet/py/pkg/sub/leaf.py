def leaf_value(x):
    return x
