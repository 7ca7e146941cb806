package runtime

func registerPool(r *Registry) {}
