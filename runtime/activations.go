package runtime

func registerActivations(r *Registry) {}
