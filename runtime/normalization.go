package runtime

func registerNormalization(r *Registry) {}
